//! The account's place and memberships from `[sync]`: scope, OU, CN candidates and group
//! conditions, compiled once with the mapping engine (so admins write one template language).

use crate::mapping::{AttributeRule, Mapper, MappingConfig, MappingError, Person};

use super::rules::SyncRules;

const SCOPE: &str = "hrsyncScope";
const OU: &str = "hrsyncOu";
const CN: &str = "hrsyncCn";
const GROUP: &str = "hrsyncGroup";

/// CNs longer than this are cut (AD's limit is 64).
const CN_MAX: usize = 64;

/// The compiled `[sync]` templates.
#[derive(Debug, Clone)]
pub struct Structure {
    mapper: Mapper,
    groups: usize,
    default_ou: String,
}

/// One person's scope, OU, CN candidates and wanted groups (in `[[sync.groups]]` order).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub in_scope: bool,
    pub ou: String,
    pub cn_candidates: Vec<String>,
    pub groups: Vec<bool>,
}

impl Structure {
    /// Compiles the templates; errors name the `[sync]` key.
    pub fn new(rules: &SyncRules, users_ou: &str) -> Result<Self, MappingError> {
        let mut cfg = MappingConfig::default();
        let mut always = AttributeRule::template("1");
        always.when = rules.scope.clone();
        cfg.attributes.insert(SCOPE.to_string(), always);
        if let Some(ou) = &rules.ou {
            cfg.attributes
                .insert(OU.to_string(), AttributeRule::template(ou.clone()));
        }
        let mut cn = AttributeRule::unique(rules.cn.clone());
        cn.max_len = Some(CN_MAX);
        cfg.attributes.insert(CN.to_string(), cn);
        for (i, g) in rules.groups.iter().enumerate() {
            let mut r = AttributeRule::template("1");
            r.when = g.when.clone();
            cfg.attributes.insert(format!("{GROUP}{i}"), r);
        }
        let mapper = Mapper::new(&cfg).map_err(rename)?;
        Ok(Structure {
            mapper,
            groups: rules.groups.len(),
            default_ou: users_ou.to_string(),
        })
    }

    /// Evaluates one person.
    pub fn evaluate(&self, p: &Person) -> Result<Evaluated, MappingError> {
        let m = self.mapper.map(p, None).map_err(rename)?;
        let has = |k: &str| m.values.get(k).is_some_and(|v| v.is_some());
        let ou = m
            .values
            .get(OU)
            .cloned()
            .flatten()
            .unwrap_or_else(|| self.default_ou.clone());
        let cn_candidates = m
            .unique
            .iter()
            .find(|u| u.attribute == CN)
            .map(|u| u.candidates.clone())
            .unwrap_or_default();
        Ok(Evaluated {
            in_scope: has(SCOPE),
            ou,
            cn_candidates,
            groups: (0..self.groups)
                .map(|i| has(&format!("{GROUP}{i}")))
                .collect(),
        })
    }
}

/// Errors speak of the `[sync]` keys, not of the internal attribute names.
fn rename(e: MappingError) -> MappingError {
    let fix = |a: &str| -> String {
        match a {
            SCOPE => "sync.scope".into(),
            OU => "sync.ou".into(),
            CN => "sync.cn".into(),
            g if g.starts_with(GROUP) => format!("sync.groups[{}].when", &g[GROUP.len()..]),
            other => other.into(),
        }
    };
    match e {
        MappingError::InvalidRule { attribute, message } => MappingError::InvalidRule {
            attribute: fix(&attribute),
            message,
        },
        MappingError::Syntax {
            attribute,
            template,
            message,
        } => MappingError::Syntax {
            attribute: fix(&attribute),
            template,
            message,
        },
        MappingError::Render {
            person_id,
            attribute,
            template,
            message,
        } => MappingError::Render {
            person_id,
            attribute: fix(&attribute),
            template,
            message,
        },
        MappingError::Condition {
            person_id,
            attribute,
            condition,
            message,
        } => MappingError::Condition {
            person_id,
            attribute: fix(&attribute),
            condition,
            message,
        },
        MappingError::UniqueExhausted { attribute, tried } => MappingError::UniqueExhausted {
            attribute: fix(&attribute),
            tried,
        },
        other => other,
    }
}
