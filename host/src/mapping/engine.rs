//! The compiled mapping: renders a person's directory attributes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};

use super::config::{Apply, AttributeRule, Blank, MappingConfig, TooLong};
use super::error::{MappingError, describe};
use super::filters;
use super::person::{FieldValue, Person};

/// The first value of `n` in numbered unique templates.
pub const FIRST_N: i64 = 2;
/// The last value of `n` in numbered unique templates.
pub const LAST_N: i64 = 99;

/// Wraps a `when` expression into a template that renders `1` when it holds.
const WHEN_PREFIX: &str = "{% if (";
const WHEN_SUFFIX: &str = ") %}1{% endif %}";

/// Context names set by the engine; they win over HR fields with the same name.
const RESERVED: &[&str] = &["id", "status", "source_status", "raw", "person", "n"];

/// The directory entry as it is now (for an existing account). Attribute names are
/// case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExistingEntry {
    /// Lowercased attribute name → values.
    attributes: BTreeMap<String, Vec<String>>,
}

impl ExistingEntry {
    /// Builds an entry; names differing only in case are merged.
    pub fn new<I, K>(attributes: I) -> Self
    where
        I: IntoIterator<Item = (K, Vec<String>)>,
        K: AsRef<str>,
    {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, values) in attributes {
            map.entry(name.as_ref().to_ascii_lowercase())
                .or_default()
                .extend(values);
        }
        ExistingEntry { attributes: map }
    }

    /// The values of `name` (any case); `None` when the entry has no such attribute.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    /// The first value of `name` (any case).
    pub fn first(&self, name: &str) -> Option<&str> {
        self.get(name)?.first().map(String::as_str)
    }

    /// All attributes, names lowercased.
    pub fn attributes(&self) -> &BTreeMap<String, Vec<String>> {
        &self.attributes
    }
}

impl From<BTreeMap<String, Vec<String>>> for ExistingEntry {
    fn from(map: BTreeMap<String, Vec<String>>) -> Self {
        ExistingEntry::new(map)
    }
}

/// A unique attribute still to be settled against the directory: try `candidates` in order and
/// take the first one that is free (see [`resolve_unique`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueRequest {
    pub attribute: String,
    /// Already cut to `max_len`, blanks dropped, duplicates (ignoring case) removed.
    pub candidates: Vec<String>,
}

impl UniqueRequest {
    /// [`resolve_unique`] over this request's candidates.
    pub async fn resolve<F, Fut, E>(&self, is_taken: F) -> Result<String, MappingError>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<bool, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        resolve_unique(&self.attribute, &self.candidates, is_taken).await
    }
}

/// The attributes the mapping wants for one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedAttributes {
    /// Attribute (as written in the config) → `Some(value)` to set, `None` to clear. Attributes
    /// not present are not to be touched.
    pub values: BTreeMap<String, Option<String>>,
    /// Unique attributes to settle against the directory, in attribute order.
    pub unique: Vec<UniqueRequest>,
}

/// One compiled template.
#[derive(Debug, Clone)]
struct Compiled {
    /// Name in the environment.
    name: String,
    /// The admin's text (for error messages).
    source: String,
    /// Uses `n` (unique fallbacks only): rendered for n = FIRST_N..=LAST_N.
    numbered: bool,
}

#[derive(Debug, Clone)]
enum RuleKind {
    Template(Compiled),
    Unique(Vec<Compiled>),
}

#[derive(Debug, Clone)]
struct Condition {
    name: String,
    expression: String,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    attribute: String,
    kind: RuleKind,
    max_len: Option<usize>,
    apply: Apply,
    blank: Blank,
    when: Option<Condition>,
    too_long: TooLong,
}

/// The compiled attribute mapping. Cheap to share (`Send + Sync`); build once per config.
#[derive(Debug, Clone)]
pub struct Mapper {
    env: Environment<'static>,
    rules: Vec<CompiledRule>,
}

impl Mapper {
    /// Compiles every template and condition in `cfg`.
    ///
    /// Fails on a malformed rule, a bad attribute name (or two names differing only in case), a
    /// syntax error, or a filter / test / function that does not exist.
    pub fn new(cfg: &MappingConfig) -> Result<Mapper, MappingError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(|out, state, value| {
            if value.is_none() || value.is_undefined() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        filters::register(&mut env);

        let mut seen: HashMap<String, &str> = HashMap::new();
        let mut rules = Vec::with_capacity(cfg.attributes.len());
        for (attribute, rule) in &cfg.attributes {
            check_attribute_name(attribute)?;
            if let Some(other) = seen.insert(attribute.to_ascii_lowercase(), attribute) {
                return Err(MappingError::InvalidRule {
                    attribute: attribute.clone(),
                    message: format!(
                        "configured twice (as `{other}` and `{attribute}`); attribute names are case-insensitive"
                    ),
                });
            }
            rules.push(compile_rule(&mut env, attribute, rule)?);
        }

        let mapper = Mapper { env, rules };
        mapper.probe()?;
        Ok(mapper)
    }

    /// What a too-long value of `attribute` does (cut or quarantine); names not mapped here
    /// (e.g. `cn` from `sync.cn`) get the attribute's default.
    pub fn too_long(&self, attribute: &str) -> TooLong {
        self.rules
            .iter()
            .find(|r| r.attribute.eq_ignore_ascii_case(attribute))
            .map_or_else(|| TooLong::default_for(attribute), |r| r.too_long)
    }

    /// The managed attribute names, as written in the config.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.attribute.as_str())
    }

    /// Renders the attributes for `person`. `existing` is the account as it is in the directory,
    /// or `None` when it is about to be created.
    ///
    /// - `apply = "on-create"` rules only produce something when `existing` is `None`.
    /// - A rule whose `when` is false produces nothing.
    /// - A blank result (empty or all whitespace) produces nothing with `blank = "keep"` and a
    ///   clear (`None`) with `blank = "clear"`. Other values are kept exactly, spaces included,
    ///   cut to `max_len` characters.
    /// - `unique` rules produce a [`UniqueRequest`] with every candidate.
    pub fn map(
        &self,
        person: &Person,
        existing: Option<&ExistingEntry>,
    ) -> Result<MappedAttributes, MappingError> {
        let ctx = build_context(person);
        let ctx_value = Value::from(ctx.clone());
        let mut out = MappedAttributes::default();
        for rule in &self.rules {
            if rule.apply == Apply::OnCreate && existing.is_some() {
                continue;
            }
            if !self.condition_holds(rule, &ctx_value, &person.id)? {
                continue;
            }
            match &rule.kind {
                RuleKind::Template(t) => {
                    let value = self.render(rule, t, &ctx_value, &person.id)?;
                    let value = fit(value, rule.max_len, None);
                    if !is_blank(&value) {
                        out.values.insert(rule.attribute.clone(), Some(value));
                    } else if rule.blank == Blank::Clear {
                        out.values.insert(rule.attribute.clone(), None);
                    }
                }
                RuleKind::Unique(templates) => {
                    let candidates = UniqueCandidates::new(
                        self,
                        rule,
                        templates,
                        ctx.clone(),
                        ctx_value.clone(),
                        &person.id,
                    )
                    .collect::<Result<Vec<_>, _>>()?;
                    out.unique.push(UniqueRequest {
                        attribute: rule.attribute.clone(),
                        candidates,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The candidates of the unique attribute `attribute` (matched case-insensitively) for
    /// `person`, rendered lazily: each fallback template in order, a template using `n` once per
    /// n = 2..=99. Each is cut to `max_len`, blanks are skipped, duplicates (ignoring case) are
    /// dropped. Ignores `apply` and `when`. A render error is yielded once, then iteration ends.
    pub fn unique_candidates<'a>(
        &'a self,
        attribute: &str,
        person: &Person,
    ) -> Result<UniqueCandidates<'a>, MappingError> {
        let rule = self
            .rules
            .iter()
            .find(|r| r.attribute == attribute)
            .or_else(|| {
                self.rules
                    .iter()
                    .find(|r| r.attribute.eq_ignore_ascii_case(attribute))
            })
            .ok_or_else(|| MappingError::InvalidRule {
                attribute: attribute.to_owned(),
                message: "not a mapped attribute".into(),
            })?;
        let RuleKind::Unique(templates) = &rule.kind else {
            return Err(MappingError::InvalidRule {
                attribute: rule.attribute.clone(),
                message: "not a `unique` attribute".into(),
            });
        };
        let ctx = build_context(person);
        let ctx_value = Value::from(ctx.clone());
        Ok(UniqueCandidates::new(
            self, rule, templates, ctx, ctx_value, &person.id,
        ))
    }

    fn render(
        &self,
        rule: &CompiledRule,
        t: &Compiled,
        ctx: &Value,
        person_id: &str,
    ) -> Result<String, MappingError> {
        let err = |e: minijinja::Error| MappingError::Render {
            person_id: person_id.to_owned(),
            attribute: rule.attribute.clone(),
            template: t.source.clone(),
            message: describe(&e, Some(&t.source), 0),
        };
        self.env
            .get_template(&t.name)
            .map_err(err)?
            .render(ctx)
            .map_err(err)
    }

    fn condition_holds(
        &self,
        rule: &CompiledRule,
        ctx: &Value,
        person_id: &str,
    ) -> Result<bool, MappingError> {
        let Some(cond) = &rule.when else {
            return Ok(true);
        };
        let err = |e: minijinja::Error| MappingError::Condition {
            person_id: person_id.to_owned(),
            attribute: rule.attribute.clone(),
            condition: cond.expression.clone(),
            message: describe(
                &e,
                Some(&wrap_condition(&cond.expression)),
                WHEN_PREFIX.len(),
            ),
        };
        let out = self
            .env
            .get_template(&cond.name)
            .map_err(err)?
            .render(ctx)
            .map_err(err)?;
        Ok(out == "1")
    }

    /// Renders every template once against an empty person to catch unknown filters, tests and
    /// functions (which minijinja only reports when they run) at load time.
    fn probe(&self) -> Result<(), MappingError> {
        let mut empty: BTreeMap<String, Value> = BTreeMap::new();
        empty.insert(
            "person".into(),
            Value::from(BTreeMap::<String, Value>::new()),
        );
        let plain = Value::from(empty.clone());
        empty.insert("n".into(), Value::from(FIRST_N));
        let numbered = Value::from(empty);
        let check = |attribute: &str, name: &str, source: &str, prefix: usize, ctx: &Value| {
            let Ok(tmpl) = self.env.get_template(name) else {
                return Ok(());
            };
            match tmpl.render(ctx) {
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::UnknownFilter
                            | ErrorKind::UnknownTest
                            | ErrorKind::UnknownFunction
                    ) =>
                {
                    let text = if prefix > 0 {
                        source
                            .get(prefix..source.len().saturating_sub(WHEN_SUFFIX.len()))
                            .unwrap_or(source)
                    } else {
                        source
                    };
                    Err(MappingError::Syntax {
                        attribute: attribute.to_owned(),
                        template: text.to_owned(),
                        message: describe(&e, Some(source), prefix),
                    })
                }
                _ => Ok(()),
            }
        };
        for rule in &self.rules {
            if let Some(cond) = &rule.when {
                let wrapped = wrap_condition(&cond.expression);
                check(
                    &rule.attribute,
                    &cond.name,
                    &wrapped,
                    WHEN_PREFIX.len(),
                    &plain,
                )?;
            }
            let templates = match &rule.kind {
                RuleKind::Template(t) => std::slice::from_ref(t),
                RuleKind::Unique(list) => list.as_slice(),
            };
            for t in templates {
                let ctx = if t.numbered { &numbered } else { &plain };
                check(&rule.attribute, &t.name, &t.source, 0, ctx)?;
            }
        }
        Ok(())
    }
}

/// Lazily rendered candidates of a unique attribute; see [`Mapper::unique_candidates`].
#[derive(Debug)]
pub struct UniqueCandidates<'a> {
    mapper: &'a Mapper,
    rule: &'a CompiledRule,
    templates: &'a [Compiled],
    ctx: BTreeMap<String, Value>,
    ctx_value: Value,
    person_id: String,
    /// Index of the template being rendered.
    index: usize,
    /// Next `n` for a numbered template.
    n: i64,
    seen: HashSet<String>,
    done: bool,
}

impl<'a> UniqueCandidates<'a> {
    fn new(
        mapper: &'a Mapper,
        rule: &'a CompiledRule,
        templates: &'a [Compiled],
        ctx: BTreeMap<String, Value>,
        ctx_value: Value,
        person_id: &str,
    ) -> Self {
        UniqueCandidates {
            mapper,
            rule,
            templates,
            ctx,
            ctx_value,
            person_id: person_id.to_owned(),
            index: 0,
            n: FIRST_N,
            seen: HashSet::new(),
            done: false,
        }
    }
}

impl Iterator for UniqueCandidates<'_> {
    type Item = Result<String, MappingError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some(t) = self.templates.get(self.index) else {
                self.done = true;
                break;
            };
            let rendered = if t.numbered {
                if self.n > LAST_N {
                    self.index += 1;
                    self.n = FIRST_N;
                    continue;
                }
                let n = self.n;
                self.n += 1;
                let mut ctx = self.ctx.clone();
                ctx.insert("n".into(), Value::from(n));
                self.mapper
                    .render(self.rule, t, &Value::from(ctx), &self.person_id)
                    .map(|v| fit(v, self.rule.max_len, Some(n)))
            } else {
                self.index += 1;
                self.mapper
                    .render(self.rule, t, &self.ctx_value, &self.person_id)
                    .map(|v| fit(v, self.rule.max_len, None))
            };
            match rendered {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(v) if is_blank(&v) => {}
                Ok(v) => {
                    if self.seen.insert(v.to_lowercase()) {
                        return Some(Ok(v));
                    }
                }
            }
        }
        None
    }
}

/// Something [`resolve_unique`] can take as a candidate: a string, or a rendered candidate that
/// may have failed (as yielded by [`Mapper::unique_candidates`]).
pub trait UniqueCandidate {
    fn into_candidate(self) -> Result<String, MappingError>;
}

impl UniqueCandidate for String {
    fn into_candidate(self) -> Result<String, MappingError> {
        Ok(self)
    }
}

impl UniqueCandidate for &String {
    fn into_candidate(self) -> Result<String, MappingError> {
        Ok(self.clone())
    }
}

impl UniqueCandidate for &str {
    fn into_candidate(self) -> Result<String, MappingError> {
        Ok(self.to_owned())
    }
}

impl UniqueCandidate for Result<String, MappingError> {
    fn into_candidate(self) -> Result<String, MappingError> {
        self
    }
}

/// Takes the first candidate that `is_taken` reports free. `is_taken` is asked about one
/// candidate at a time, in order (typically an LDAP search for the value, ignoring the person's
/// own entry).
///
/// Errors: [`MappingError::UniqueExhausted`] when every candidate is taken (or there are none),
/// [`MappingError::Lookup`] when `is_taken` fails, or the candidate's own render error.
pub async fn resolve_unique<I, F, Fut, E>(
    attribute: &str,
    candidates: I,
    mut is_taken: F,
) -> Result<String, MappingError>
where
    I: IntoIterator,
    I::Item: UniqueCandidate,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<bool, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    let mut tried = Vec::new();
    for candidate in candidates {
        let candidate = candidate.into_candidate()?;
        let taken = is_taken(candidate.clone())
            .await
            .map_err(|e| MappingError::Lookup {
                attribute: attribute.to_owned(),
                candidate: candidate.clone(),
                source: e.into(),
            })?;
        if !taken {
            return Ok(candidate);
        }
        tried.push(candidate);
    }
    Err(MappingError::UniqueExhausted {
        attribute: attribute.to_owned(),
        tried,
    })
}

/// Only treat a value that is entirely whitespace as empty; anything else is kept exactly.
fn is_blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// Cuts `value` to `max_len` characters. For a numbered candidate ending in its counter, the
/// counter is kept and the text before it shortened ("averyverylongname7", not "averyverylongnam").
/// A cut never leaves a separator (`.`, `-`, `_`, space) at the end: "venkatasubrahmanyam."
/// is not a valid sAMAccountName.
fn fit(value: String, max_len: Option<usize>, counter: Option<i64>) -> String {
    let value = match super::clean::clean(&value) {
        std::borrow::Cow::Borrowed(_) => value,
        std::borrow::Cow::Owned(c) => c,
    };
    let Some(max) = max_len else {
        return value;
    };
    if value.chars().count() <= max {
        return value;
    }
    if let Some(n) = counter {
        let digits = n.to_string();
        if digits.len() < max
            && let Some(stem) = value.strip_suffix(digits.as_str())
        {
            let cut: String = stem.chars().take(max - digits.len()).collect();
            return format!("{}{digits}", trim_separators(&cut));
        }
    }
    let cut: String = value.chars().take(max).collect();
    trim_separators(&cut).to_string()
}

fn trim_separators(s: &str) -> &str {
    s.trim_end_matches(['.', '-', '_', ' '])
}

fn wrap_condition(expression: &str) -> String {
    format!("{WHEN_PREFIX}{expression}{WHEN_SUFFIX}")
}

fn check_attribute_name(attribute: &str) -> Result<(), MappingError> {
    let ok = !attribute.is_empty()
        && attribute
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ';' | '.'));
    if ok {
        Ok(())
    } else {
        Err(MappingError::InvalidRule {
            attribute: attribute.to_owned(),
            message: "not a valid LDAP attribute name (letters, digits, `-`, `_`, `;`, `.`)".into(),
        })
    }
}

fn compile_rule(
    env: &mut Environment<'static>,
    attribute: &str,
    rule: &AttributeRule,
) -> Result<CompiledRule, MappingError> {
    rule.validate()
        .map_err(|message| MappingError::InvalidRule {
            attribute: attribute.to_owned(),
            message,
        })?;

    let kind = match (&rule.template, &rule.unique) {
        (Some(source), _) => RuleKind::Template(add_template(env, attribute, attribute, source)?),
        (None, Some(list)) => RuleKind::Unique(
            list.iter()
                .enumerate()
                .map(|(i, source)| {
                    add_template(env, attribute, &format!("{attribute}#{i}"), source)
                })
                .collect::<Result<_, _>>()?,
        ),
        (None, None) => {
            return Err(MappingError::InvalidRule {
                attribute: attribute.to_owned(),
                message: "set `template` or `unique`".into(),
            });
        }
    };

    let when = match &rule.when {
        None => None,
        Some(expression) => {
            let syntax = |e: minijinja::Error, source: &str, prefix: usize| MappingError::Syntax {
                attribute: attribute.to_owned(),
                template: expression.clone(),
                message: format!("in `when`: {}", describe(&e, Some(source), prefix)),
            };
            // Compile as an expression first: that rejects anything that is not one expression
            // and reports positions relative to what the admin wrote.
            env.compile_expression_owned(expression.clone())
                .map(drop)
                .map_err(|e| syntax(e, expression, 0))?;
            let name = format!("{attribute}?when");
            let wrapped = wrap_condition(expression);
            env.add_template_owned(name.clone(), wrapped.clone())
                .map_err(|e| syntax(e, &wrapped, WHEN_PREFIX.len()))?;
            Some(Condition {
                name,
                expression: expression.clone(),
            })
        }
    };

    Ok(CompiledRule {
        attribute: attribute.to_owned(),
        kind,
        max_len: rule.max_len,
        apply: rule.apply,
        blank: rule.blank,
        when,
        too_long: rule
            .too_long
            .unwrap_or_else(|| TooLong::default_for(attribute)),
    })
}

fn add_template(
    env: &mut Environment<'static>,
    attribute: &str,
    name: &str,
    source: &str,
) -> Result<Compiled, MappingError> {
    env.add_template_owned(name.to_owned(), source.to_owned())
        .map_err(|e| MappingError::Syntax {
            attribute: attribute.to_owned(),
            template: source.to_owned(),
            message: describe(&e, Some(source), 0),
        })?;
    let numbered = env
        .get_template(name)
        .map(|t| t.undeclared_variables(false).contains("n"))
        .unwrap_or(false);
    Ok(Compiled {
        name: name.to_owned(),
        source: source.to_owned(),
        numbered,
    })
}

/// The template context: every field and fact by name, then the engine's own names (which win).
fn build_context(person: &Person) -> BTreeMap<String, Value> {
    let mut fields: BTreeMap<String, Value> = person
        .values()
        .iter()
        .map(|(k, v)| (k.clone(), field_value(v)))
        .collect();
    // Endpoint fields (`timeoff.end_date`) read as `timeoff.end_date`.
    super::nest::nest(&mut fields);
    let mut ctx: BTreeMap<String, Value> = fields
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ctx.insert("id".into(), Value::from(person.id.as_str()));
    ctx.insert("status".into(), Value::from(person.status.as_str()));
    ctx.insert(
        "source_status".into(),
        Value::from(person.source_status.as_str()),
    );
    ctx.insert(
        "raw".into(),
        person.raw.as_ref().map_or(Value::UNDEFINED, json_value),
    );
    ctx.insert("person".into(), Value::from(fields));
    ctx
}

/// Null becomes undefined (not `none`): minijinja would otherwise print "none" through filters
/// such as `lower` and the `~` operator.
fn field_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::Null => Value::UNDEFINED,
        FieldValue::Text(s) | FieldValue::Date(s) => match super::clean::clean(s) {
            c if c.is_empty() => Value::UNDEFINED,
            c => Value::from(c.as_ref()),
        },
        FieldValue::Integer(i) => Value::from(*i),
        FieldValue::Number(x) => Value::from(*x),
        FieldValue::Boolean(b) => Value::from(*b),
        FieldValue::TextList(list) => {
            Value::from_iter(list.iter().map(|s| Value::from(s.as_str())))
        }
    }
}

/// JSON to a template value; JSON null becomes undefined, as for fields.
fn json_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::UNDEFINED,
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::from_iter(items.iter().map(json_value)),
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}
