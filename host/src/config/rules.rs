//! `[sync]`: who is in scope, where accounts live, which groups they get, what happens to leavers,
//! and the safety gate.
//!
//! Ownership model: HR owns the attributes in `[mapping.attributes]`, the OU chosen by `ou`, and
//! the groups listed in `[[sync.groups]]`. Everything else on an account — other attributes, other
//! groups, the password after creation — belongs to AD and hrsync never touches it.

use serde::{Deserialize, Serialize};

/// The `[sync]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncRules {
    /// The connector people come from.
    pub connector: String,
    /// The directory attribute that holds the person's HR id (the anchor). Default
    /// `employeeNumber`: AD limits `employeeID` to 16 characters, too short for Remote's UUIDs.
    pub anchor: String,
    /// Secondary matches to adopt accounts that existed before hrsync (person field ↔ attribute).
    #[serde(rename = "match")]
    pub matches: Vec<MatchRule>,
    /// A minijinja condition over the person; people outside it are left alone.
    pub scope: Option<String>,
    /// The OU of an account, as a template (default: `directory.users_ou`). Values inserted into
    /// it are DN-escaped.
    pub ou: Option<String>,
    /// The account's CN candidates (ordered fallbacks, unique within the OU).
    pub cn: Vec<String>,
    /// The time zone in which dates (start, end) turn over: "today" for every lifecycle decision.
    pub time_zone: String,
    /// Pre-hires get their account (disabled) this many days before the start date.
    pub prehire_days: i64,
    /// Delete a leaver's account this many days after it was disabled; `None` never deletes.
    pub delete_after_days: Option<i64>,
    /// Groups managed by rule. Groups not listed here are never touched.
    pub groups: Vec<GroupRule>,
    /// Removed in hrsync 0.2 (connectors report end dates as a typed fact); read only to say so
    /// ([`TERMINATION_DATES_ACTION_REMOVED`]).
    #[serde(rename = "termination_dates_action", skip_serializing)]
    pub removed_termination_dates_action: Option<String>,
    /// Set a random initial password and enable new accounts (the default; needs LDAPS or
    /// StartTLS). `false` creates accounts disabled, without a password.
    pub set_initial_password: bool,
    /// Detail fetches allowed per run (new, changed and stale people first); `None` = no cap.
    pub max_detail_fetches: Option<usize>,
    /// A cached detail older than this is fetched again.
    pub detail_max_age_days: i64,
    /// The safety gate.
    pub safety: Safety,
}

/// What `sync.termination_dates_action` gets: it is ignored, and `hrsync config check` asks to
/// delete it.
pub const TERMINATION_DATES_ACTION_REMOVED: &str = "is no longer used and is ignored: since hrsync 0.2 (contract hrsync:connector@0.2.0) a connector reports each person's end date itself (the Remote connector reads its offboardings), and hrsync reads no connector's action output; delete this line";

/// A secondary match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    /// The person's field.
    pub person: String,
    /// The directory attribute.
    pub directory: String,
}

/// One managed group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    /// The group's DN.
    pub dn: String,
    /// A minijinja condition; members are the active people for whom it is true.
    #[serde(default)]
    pub when: Option<String>,
}

/// The safety gate: a run that would disable or delete more than this is held for approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Safety {
    /// Hold when disables + deletes exceed this count.
    pub max_destructive: usize,
    /// … or this share of managed accounts, in percent.
    pub max_destructive_percent: f64,
}

impl Default for Safety {
    fn default() -> Self {
        Safety {
            max_destructive: 10,
            max_destructive_percent: 5.0,
        }
    }
}

impl SyncRules {
    /// Refuses `set_initial_password` over a connection that would send the password in clear
    /// text (AD also refuses a password over plain LDAP): it needs `ldaps://` or StartTLS.
    pub fn check_password_transport(&self, url: &str, starttls: bool) -> Result<(), String> {
        let ldaps = url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("ldaps://"));
        if !self.set_initial_password || ldaps || starttls {
            return Ok(());
        }
        Err(format!(
            "passwords can be set only over LDAPS or StartTLS, and the directory url `{url}` is \
             plain LDAP: use an ldaps:// url or starttls = true, or set set_initial_password = \
             false (then accounts are created disabled)"
        ))
    }
}

impl Default for SyncRules {
    fn default() -> Self {
        SyncRules {
            connector: "remote".to_string(),
            anchor: "employeeNumber".to_string(),
            matches: Vec::new(),
            scope: None,
            ou: None,
            cn: vec![
                "{{ first_name }} {{ last_name }}".to_string(),
                "{{ first_name }} {{ last_name }} ({{ short_id or id }})".to_string(),
            ],
            time_zone: "UTC".to_string(),
            prehire_days: 7,
            delete_after_days: None,
            groups: Vec::new(),
            removed_termination_dates_action: None,
            set_initial_password: true,
            max_detail_fetches: None,
            detail_max_age_days: 1,
            safety: Safety::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_initial_password_needs_ldaps_or_starttls() {
        let rules = SyncRules::default();
        assert!(rules.set_initial_password, "the default sets a password");
        rules
            .check_password_transport("LDAPS://dc1:636", false)
            .unwrap();
        rules.check_password_transport("ldap://dc1", true).unwrap();
        let e = rules
            .check_password_transport("ldap://dc1", false)
            .unwrap_err();
        assert!(e.contains("set_initial_password = false"), "{e}");
        let off = SyncRules {
            set_initial_password: false,
            ..SyncRules::default()
        };
        off.check_password_transport("ldap://dc1", false).unwrap();
    }
}
