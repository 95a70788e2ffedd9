//! What the directory holds, read once per run: the user accounts, indexed for correlation, and
//! the values already taken (for unique names).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::directory::{DirEntry, escape, uac};

/// One user account as the plan sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub dn: String,
    /// Attributes by lower-cased name.
    pub attrs: HashMap<String, Vec<String>>,
}

impl Account {
    /// From a directory entry.
    pub fn from_entry(e: &DirEntry) -> Self {
        Account {
            dn: e.dn.clone(),
            attrs: e
                .attrs
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
        }
    }

    /// All values of an attribute.
    pub fn values(&self, name: &str) -> &[String] {
        self.attrs
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The first value of an attribute.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }

    /// Whether `userAccountControl` says disabled (an account without it counts as enabled).
    pub fn is_disabled(&self) -> bool {
        self.first("userAccountControl")
            .and_then(uac::parse)
            .is_some_and(uac::is_disabled)
    }

    /// Groups the account is in (from `memberOf`), lower-cased.
    pub fn groups(&self) -> HashSet<String> {
        self.values("memberOf")
            .iter()
            .map(|g| normalize_dn(g))
            .collect()
    }
}

/// DN comparison key: each RDN parsed, lower-cased and escaped the one canonical way.
pub fn normalize_dn(dn: &str) -> String {
    match escape::parse_dn(dn) {
        Some(rdns) => rdns
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r.attr.to_ascii_lowercase(),
                    escape::escape_dn_value(&r.value.to_lowercase())
                )
            })
            .collect::<Vec<_>>()
            .join(","),
        None => dn.to_lowercase(),
    }
}

/// The directory as read at the start of a run.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub accounts: Vec<Account>,
    by_anchor: HashMap<String, Vec<usize>>,
    by_value: HashMap<(String, String), Vec<usize>>,
    dns: HashSet<String>,
    taken: HashMap<String, HashSet<String>>,
}

impl Snapshot {
    /// Builds the indexes. `anchor` is the anchor attribute; `match_attrs` the secondary match
    /// attributes; `unique_attrs` those whose taken values matter.
    pub fn new(
        accounts: Vec<Account>,
        anchor: &str,
        match_attrs: &[&str],
        unique_attrs: &[&str],
    ) -> Self {
        let mut s = Snapshot::default();
        for (i, a) in accounts.iter().enumerate() {
            s.dns.insert(normalize_dn(&a.dn));
            if let Some(id) = a.first(anchor) {
                s.by_anchor.entry(id.to_string()).or_default().push(i);
            }
            for m in match_attrs {
                for v in a.values(m) {
                    s.by_value
                        .entry((m.to_ascii_lowercase(), v.to_lowercase()))
                        .or_default()
                        .push(i);
                }
            }
            for u in unique_attrs {
                for v in a.values(u) {
                    s.taken
                        .entry(u.to_ascii_lowercase())
                        .or_default()
                        .insert(v.to_lowercase());
                }
            }
        }
        s.accounts = accounts;
        s
    }

    /// Accounts anchored to a person id.
    pub fn by_anchor(&self, id: &str) -> Vec<&Account> {
        self.by_anchor
            .get(id)
            .map(|v| v.iter().map(|i| &self.accounts[*i]).collect())
            .unwrap_or_default()
    }

    /// Accounts whose `attr` equals `value` (case-insensitive).
    pub fn by_value(&self, attr: &str, value: &str) -> Vec<&Account> {
        self.by_value
            .get(&(attr.to_ascii_lowercase(), value.to_lowercase()))
            .map(|v| v.iter().map(|i| &self.accounts[*i]).collect())
            .unwrap_or_default()
    }

    /// Whether a DN exists.
    pub fn has_dn(&self, dn: &str) -> bool {
        self.dns.contains(&normalize_dn(dn))
    }

    /// Adds values taken outside the managed base (accounts elsewhere in the domain).
    pub fn add_taken(&mut self, accounts: &[Account], unique_attrs: &[&str]) {
        for a in accounts {
            for u in unique_attrs {
                for v in a.values(u) {
                    self.taken
                        .entry(u.to_ascii_lowercase())
                        .or_default()
                        .insert(v.to_lowercase());
                }
            }
        }
    }

    /// Whether a value of a unique attribute is taken.
    pub fn is_taken(&self, attr: &str, value: &str) -> bool {
        self.taken
            .get(&attr.to_ascii_lowercase())
            .is_some_and(|t| t.contains(&value.to_lowercase()))
    }

    /// Accounts that carry an anchor (managed by hrsync).
    pub fn anchored(&self) -> usize {
        self.by_anchor.len()
    }

    /// Anchored account ids.
    pub fn anchors(&self) -> impl Iterator<Item = &str> {
        self.by_anchor.keys().map(String::as_str)
    }
}
