//! `[mapping]` configuration: one rule per directory attribute.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The `[mapping]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Directory attribute name (case kept as written) → rule.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeRule>,
}

/// When an attribute is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Apply {
    /// On every sync, for new and existing accounts.
    #[default]
    Always,
    /// Only when the account is created.
    OnCreate,
}

/// What an empty (or all-whitespace) rendered value does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blank {
    /// Leave the directory value alone.
    #[default]
    Keep,
    /// Clear the attribute in the directory.
    Clear,
}

/// How one attribute is computed. Exactly one of `template` and `unique` is set.
///
/// Deserializes from a plain string (the template) or from a table.
/// What a value longer than the directory's schema allows does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TooLong {
    /// Cut to the limit (the default for names).
    Truncate,
    /// Quarantine the person, naming the attribute and the limit (the default otherwise).
    Quarantine,
}

/// Attributes whose too-long values are cut by default: names, where a cut is harmless.
const TRUNCATED_BY_DEFAULT: &[&str] = &[
    "cn",
    "name",
    "displayname",
    "givenname",
    "sn",
    "initials",
    "middlename",
    "description",
];

impl TooLong {
    /// The default for an attribute.
    pub fn default_for(attribute: &str) -> TooLong {
        if TRUNCATED_BY_DEFAULT.contains(&attribute.to_ascii_lowercase().as_str()) {
            TooLong::Truncate
        } else {
            TooLong::Quarantine
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeRule {
    pub template: Option<String>,
    /// Candidate templates, tried in order until one is free in the directory.
    pub unique: Option<Vec<String>>,
    /// Maximum length in characters; longer values are cut.
    pub max_len: Option<usize>,
    pub apply: Apply,
    /// A minijinja expression; when false the attribute is not managed for that person.
    pub when: Option<String>,
    pub blank: Blank,
    /// A value longer than the schema's `rangeUpper`: cut or quarantine (default by attribute).
    pub too_long: Option<TooLong>,
}

impl AttributeRule {
    /// A rule with just a template and every option at its default.
    pub fn template(template: impl Into<String>) -> Self {
        AttributeRule {
            template: Some(template.into()),
            unique: None,
            max_len: None,
            apply: Apply::default(),
            when: None,
            blank: Blank::default(),
            too_long: None,
        }
    }

    /// A unique rule with the candidate templates in order, every option at its default.
    pub fn unique<I, S>(candidates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AttributeRule {
            template: None,
            unique: Some(candidates.into_iter().map(Into::into).collect()),
            max_len: None,
            apply: Apply::default(),
            when: None,
            blank: Blank::default(),
            too_long: None,
        }
    }

    /// Checks the rule's shape (not its templates' syntax; `Mapper::new` does that).
    pub fn validate(&self) -> Result<(), String> {
        match (&self.template, &self.unique) {
            (Some(_), Some(_)) => Err("set either `template` or `unique`, not both".into()),
            (None, None) => Err("set `template` or `unique`".into()),
            (None, Some(list)) if list.is_empty() => {
                Err("`unique` needs at least one candidate template".into())
            }
            _ if self.max_len == Some(0) => Err("`max_len` must be at least 1".into()),
            _ => Ok(()),
        }
    }
}

/// The table form, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleTable {
    template: Option<String>,
    unique: Option<Vec<String>>,
    max_len: Option<usize>,
    #[serde(default)]
    apply: Apply,
    when: Option<String>,
    #[serde(default)]
    blank: Blank,
    too_long: Option<TooLong>,
}

impl From<RuleTable> for AttributeRule {
    fn from(t: RuleTable) -> Self {
        AttributeRule {
            template: t.template,
            unique: t.unique,
            max_len: t.max_len,
            apply: t.apply,
            when: t.when,
            blank: t.blank,
            too_long: t.too_long,
        }
    }
}

impl<'de> Deserialize<'de> for AttributeRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RuleVisitor;

        impl<'de> Visitor<'de> for RuleVisitor {
            type Value = AttributeRule;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a template string or a table with `template` or `unique`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<AttributeRule, E> {
                Ok(AttributeRule::template(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AttributeRule, A::Error> {
                let table = RuleTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let rule = AttributeRule::from(table);
                rule.validate().map_err(de::Error::custom)?;
                Ok(rule)
            }
        }

        deserializer.deserialize_any(RuleVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Root {
        mapping: MappingConfig,
    }

    fn parse(toml_text: &str) -> Result<MappingConfig, toml::de::Error> {
        toml::from_str::<Root>(toml_text).map(|r| r.mapping)
    }

    #[test]
    fn parses_the_documented_example() {
        let cfg = parse(
            r#"
[mapping.attributes]
givenName = "{{ first_name }}"
sn = "{{ last_name }}"
displayName = { template = "{{ first_name }} {{ last_name }}", apply = "always" }
sAMAccountName = { unique = ["{{ first_name|ascii|lower }}.{{ last_name|ascii|lower }}", "{{ first_name|ascii|lower|first }}{{ last_name|ascii|lower }}", "{{ first_name|ascii|lower }}.{{ last_name|ascii|lower }}{{ n }}"], max_len = 20, apply = "on-create" }
employeeType = { template = "{{ type }}", when = "type == 'contractor'" }
description = { template = "{{ job_title }}", blank = "clear" }
"#,
        )
        .expect("valid config");
        let a = &cfg.attributes;
        assert_eq!(a.len(), 6);
        assert_eq!(a["givenName"], AttributeRule::template("{{ first_name }}"));
        assert_eq!(a["displayName"].apply, Apply::Always);
        let sam = &a["sAMAccountName"];
        assert_eq!(sam.template, None);
        assert_eq!(sam.unique.as_ref().map(Vec::len), Some(3));
        assert_eq!(sam.max_len, Some(20));
        assert_eq!(sam.apply, Apply::OnCreate);
        assert_eq!(sam.blank, Blank::Keep);
        assert_eq!(
            a["employeeType"].when.as_deref(),
            Some("type == 'contractor'")
        );
        assert_eq!(a["description"].blank, Blank::Clear);
        assert!(!a.contains_key("samaccountname"), "names keep their case");
    }

    #[test]
    fn rejects_malformed_rules() {
        for bad in [
            r#"x = { template = "a", unique = ["b"] }"#,
            r#"x = { apply = "always" }"#,
            r#"x = { unique = [] }"#,
            r#"x = { template = "a", max_len = 0 }"#,
            r#"x = { template = "a", aply = "on-create" }"#,
            r#"x = { template = "a", apply = "sometimes" }"#,
            r#"x = { template = "a", blank = "erase" }"#,
            r#"x = 3"#,
        ] {
            let text = format!("[mapping.attributes]\n{bad}\n");
            assert!(parse(&text).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn empty_mapping_is_allowed() {
        let cfg = parse("[mapping]\n").expect("valid");
        assert!(cfg.attributes.is_empty());
    }
}
