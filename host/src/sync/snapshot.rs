//! What the directory holds, read once per run: the user accounts, indexed for correlation, and
//! the values already taken (for unique names).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::account::Account;
use crate::directory::DirEntry;
use crate::directory::escape::{self, normalize_dn};

/// The DNS name of a domain from the `DC=` parts of a DN (`OU=x,DC=corp,DC=example` →
/// `corp.example`): the realm whose UPNs claim sAMAccountNames.
pub fn realm_of(dn: &str) -> String {
    escape::parse_dn(dn)
        .map(|rdns| {
            rdns.iter()
                .filter(|r| r.attr.eq_ignore_ascii_case("dc"))
                .map(|r| r.value.to_lowercase())
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default()
}

/// Values held in AD's shared name namespaces, and in any other unique attribute:
///
/// - a `sAMAccountName` `x` and a `userPrincipalName` `x@<realm>` claim the same name: a
///   candidate of either is taken when the other holds it (AD's hardening since 2021; Samba too);
/// - `mail` and `proxyAddresses` (`smtp:` values) share the mail namespace;
/// - other unique attributes are compared as themselves.
///
/// Comparisons ignore case.
#[derive(Debug, Clone, Default)]
pub struct Names {
    realm: String,
    sams: HashSet<String>,
    upns: HashSet<String>,
    mails: HashSet<String>,
    other: HashMap<String, HashSet<String>>,
}

/// An address in `proxyAddresses` without its scheme (`smtp:a@b` → `a@b`); `None` for other
/// schemes (X500, SIP, …).
fn proxy_mail(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(':')?;
    scheme.eq_ignore_ascii_case("smtp").then_some(rest)
}

impl Names {
    /// Empty, for a domain whose DNS name is `realm`.
    pub fn new(realm: &str) -> Names {
        Names {
            realm: realm.to_lowercase(),
            ..Names::default()
        }
    }

    /// Records that `value` of `attribute` is held.
    pub fn insert(&mut self, attribute: &str, value: &str) {
        let v = value.to_lowercase();
        match attribute.to_ascii_lowercase().as_str() {
            "samaccountname" => {
                self.sams.insert(v);
            }
            "userprincipalname" => {
                self.upns.insert(v);
            }
            "mail" => {
                self.mails.insert(v);
            }
            "proxyaddresses" => {
                if let Some(m) = proxy_mail(&v) {
                    self.mails.insert(m.to_string());
                }
            }
            other => {
                self.other.entry(other.to_string()).or_default().insert(v);
            }
        }
    }

    /// Records every value of the namespace attributes (and `unique`) an object holds;
    /// `values` gives the values of an attribute.
    pub fn insert_all<'a, V>(&mut self, values: impl Fn(&str) -> V, unique: &[String])
    where
        V: Iterator<Item = &'a str>,
    {
        let unique = unique.iter().map(String::as_str);
        for attr in NAMESPACE_ATTRIBUTES.iter().copied().chain(unique) {
            for v in values(attr) {
                self.insert(attr, v);
            }
        }
    }

    /// Whether `value` of `attribute` collides with a held value (see the type's docs).
    pub fn is_taken(&self, attribute: &str, value: &str) -> bool {
        let v = value.to_lowercase();
        match attribute.to_ascii_lowercase().as_str() {
            "samaccountname" => {
                self.sams.contains(&v)
                    || (!self.realm.is_empty()
                        && self.upns.contains(&format!("{v}@{}", self.realm)))
            }
            "userprincipalname" => {
                self.upns.contains(&v)
                    || v.rsplit_once('@').is_some_and(|(prefix, suffix)| {
                        suffix == self.realm && self.sams.contains(prefix)
                    })
            }
            "mail" => self.mails.contains(&v),
            "proxyaddresses" => proxy_mail(&v).is_some_and(|m| self.mails.contains(m)),
            other => self.other.get(other).is_some_and(|s| s.contains(&v)),
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }
}

/// Attributes that form AD's shared namespaces; always read and always checked.
pub const NAMESPACE_ATTRIBUTES: &[&str] = &[
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
];

/// The directory as read at the start of a run.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub accounts: Vec<Account>,
    by_anchor: HashMap<Box<str>, Slots>,
    /// By (position in `match_attrs`, lower-cased value).
    by_value: HashMap<(usize, Box<str>), Slots>,
    dns: HashSet<Box<str>>,
    names: Names,
    anchor: String,
    /// Lower-cased.
    match_attrs: Vec<String>,
    unique_attrs: Vec<String>,
    /// Upper length limits of attributes (lower-cased names), from the schema's `rangeUpper`.
    pub limits: HashMap<String, usize>,
    /// The directory as read at the start of the run, under this (later, smaller) read: its
    /// names and DNs count as taken too. See [`Snapshot::over`].
    base: Option<Arc<Snapshot>>,
}

impl Snapshot {
    /// Builds the indexes. `anchor` is the anchor attribute; `match_attrs` the secondary match
    /// attributes; `unique_attrs` those whose taken values matter (besides AD's namespaces);
    /// `realm` the domain's DNS name.
    pub fn new(
        accounts: Vec<Account>,
        anchor: &str,
        match_attrs: &[&str],
        unique_attrs: &[&str],
        realm: &str,
    ) -> Self {
        let mut s = Snapshot::empty(anchor, match_attrs, unique_attrs, realm);
        for a in accounts {
            s.push(a);
        }
        s
    }

    /// No accounts yet: a read adds them one at a time as they arrive ([`Snapshot::push`]).
    pub fn empty(anchor: &str, match_attrs: &[&str], unique_attrs: &[&str], realm: &str) -> Self {
        Snapshot {
            names: Names::new(realm),
            anchor: anchor.to_string(),
            match_attrs: match_attrs.iter().map(|m| m.to_ascii_lowercase()).collect(),
            unique_attrs: unique_attrs.iter().map(|u| u.to_string()).collect(),
            ..Snapshot::default()
        }
    }

    /// Adds an account and indexes it; `false` (and nothing added) when an account with its DN
    /// is there already (several searches of one read can return it).
    pub fn push(&mut self, a: Account) -> bool {
        if !self.dns.insert(normalize_dn(&a.dn).into()) {
            return false;
        }
        let i = self.accounts.len();
        if let Some(id) = a.first(&self.anchor) {
            Slots::add(self.by_anchor.entry(id.into()), i);
        }
        for (m, attr) in self.match_attrs.iter().enumerate() {
            for v in a.values(attr) {
                Slots::add(self.by_value.entry((m, v.to_lowercase().into())), i);
            }
        }
        self.names
            .insert_all(|attr| a.values(attr), &self.unique_attrs);
        self.accounts.push(a);
        true
    }

    /// The accounts at these positions.
    fn at(&self, slots: &Slots) -> Vec<&Account> {
        slots.iter().filter_map(|i| self.accounts.get(i)).collect()
    }

    /// Accounts anchored to a person id.
    pub fn by_anchor(&self, id: &str) -> Vec<&Account> {
        self.by_anchor
            .get(id)
            .map(|slots| self.at(slots))
            .unwrap_or_default()
    }

    /// Accounts whose `attr` equals `value` (case-insensitive).
    pub fn by_value(&self, attr: &str, value: &str) -> Vec<&Account> {
        let Some(m) = self
            .match_attrs
            .iter()
            .position(|a| a.eq_ignore_ascii_case(attr))
        else {
            return Vec::new();
        };
        self.by_value
            .get(&(m, value.to_lowercase().into()))
            .map(|slots| self.at(slots))
            .unwrap_or_default()
    }

    /// Whether a DN exists.
    pub fn has_dn(&self, dn: &str) -> bool {
        let key: Box<str> = normalize_dn(dn).into();
        self.dns.contains(&key) || self.base.as_ref().is_some_and(|b| b.dns.contains(&key))
    }

    /// Layers this read (a few people's accounts, fresh) over the run's first, whole read:
    /// values and DNs taken then still count as taken, so a batch needs no search of its own.
    pub fn over(mut self, base: Arc<Snapshot>) -> Snapshot {
        if self.limits.is_empty() {
            self.limits = base.limits.clone();
        }
        self.base = Some(base);
        self
    }

    /// Adds the names and DN held by another object of the uniqueness base (any object class:
    /// users elsewhere, groups, computers, contacts; a user already pushed adds nothing new).
    pub fn add_taken(&mut self, object: &DirEntry) {
        self.names.insert_all(
            |attr| object.values(attr).iter().map(String::as_str),
            &self.unique_attrs,
        );
        self.dns.insert(normalize_dn(&object.dn).into());
    }

    /// Whether a value of a unique attribute is taken (AD's shared namespaces included).
    pub fn is_taken(&self, attr: &str, value: &str) -> bool {
        self.names.is_taken(attr, value)
            || self
                .base
                .as_ref()
                .is_some_and(|b| b.names.is_taken(attr, value))
    }

    /// The domain's DNS name (the realm of implicit UPNs).
    pub fn realm(&self) -> &str {
        self.names.realm()
    }

    /// Accounts that carry an anchor (managed by hrsync).
    pub fn anchored(&self) -> usize {
        self.by_anchor.len()
    }

    /// Anchored account ids.
    pub fn anchors(&self) -> impl Iterator<Item = &str> {
        self.by_anchor.keys().map(|k| &**k)
    }
}

/// Positions of the accounts under one index key: nearly always one, so without a list of its
/// own (an index entry of a hundred thousand accounts each).
#[derive(Debug, Clone)]
enum Slots {
    One(u32),
    Many(Vec<u32>),
}

impl Slots {
    /// Adds position `i` under a key.
    fn add<K>(entry: Entry<'_, K, Slots>, i: usize) {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        match entry {
            Entry::Vacant(v) => {
                v.insert(Slots::One(i));
            }
            Entry::Occupied(mut o) => match o.get_mut() {
                Slots::One(first) => {
                    let first = *first;
                    o.insert(Slots::Many(vec![first, i]));
                }
                Slots::Many(all) => all.push(i),
            },
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let (one, many) = match self {
            Slots::One(i) => (Some(*i), &[][..]),
            Slots::Many(all) => (None, &all[..]),
        };
        one.into_iter()
            .chain(many.iter().copied())
            .map(|i| i as usize)
    }
}
