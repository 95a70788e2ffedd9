//! What the directory holds, read once per run: the user accounts, indexed for correlation, and
//! the values already taken (for unique names).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::directory::{DirEntry, escape, uac};

/// One user account as the plan sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub dn: String,
    /// Attributes by lower-cased name.
    pub attrs: HashMap<String, Vec<String>>,
    /// The `objectGUID`, in AD's string form, when it was read.
    #[serde(default)]
    pub guid: Option<String>,
}

impl Account {
    /// From a directory entry.
    pub fn from_entry(e: &DirEntry) -> Self {
        Account::from_owned_entry(e.clone())
    }

    /// From a directory entry, taking its values (a whole read becomes accounts without
    /// holding both at once).
    pub fn from_owned_entry(e: DirEntry) -> Self {
        let guid = e.first_bin("objectGUID").and_then(guid_string);
        let DirEntry { dn, attrs, .. } = e;
        Account {
            dn,
            attrs: attrs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            guid,
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

    /// Whether the account has ever had a password set: `pwdLastSet` is not `0`. An account
    /// read without the attribute counts as having one.
    pub fn has_password(&self) -> bool {
        self.first("pwdLastSet").is_none_or(|v| v.trim() != "0")
    }

    /// Whether AD protects the account: `adminCount=1` (AdminSDHolder: members of the built-in
    /// privileged groups, now or once), `isCriticalSystemObject`, or a direct member of a
    /// built-in privileged group. hrsync never writes to it, whatever matches.
    pub fn is_protected(&self) -> bool {
        self.first("adminCount").is_some_and(|v| v.trim() != "0")
            || self
                .first("isCriticalSystemObject")
                .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"))
            || self
                .values("memberOf")
                .iter()
                .any(|g| is_privileged_group(g))
    }

    /// Groups the account is in (from `memberOf`), lower-cased.
    pub fn groups(&self) -> HashSet<String> {
        self.values("memberOf")
            .iter()
            .map(|g| normalize_dn(g))
            .collect()
    }
}

/// AD's string form of an `objectGUID` (16 bytes, the first three groups little-endian), as
/// `<GUID=…>` DNs take it.
pub fn guid_string(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// The built-in privileged groups of AD (their members are protected).
const PRIVILEGED_GROUPS: &[&str] = &[
    "domain admins",
    "enterprise admins",
    "schema admins",
    "administrators",
    "account operators",
    "server operators",
    "backup operators",
    "print operators",
    "domain controllers",
    "read-only domain controllers",
    "enterprise read-only domain controllers",
    "group policy creator owners",
    "cryptographic operators",
    "key admins",
    "enterprise key admins",
];

/// Whether a group DN is a built-in privileged group (in `CN=Users` or `CN=Builtin`).
fn is_privileged_group(dn: &str) -> bool {
    let Some(rdns) = escape::parse_dn(dn) else {
        return false;
    };
    let (Some(first), Some(second)) = (rdns.first(), rdns.get(1)) else {
        return false;
    };
    first.attr.eq_ignore_ascii_case("cn")
        && PRIVILEGED_GROUPS.contains(&first.value.to_lowercase().as_str())
        && second.attr.eq_ignore_ascii_case("cn")
        && (second.value.eq_ignore_ascii_case("users")
            || second.value.eq_ignore_ascii_case("builtin"))
}

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

    /// Records every value of the namespace attributes (and `unique`) an account holds.
    pub fn insert_account(&mut self, a: &Account, unique: &[&str]) {
        for attr in NAMESPACE_ATTRIBUTES.iter().chain(unique) {
            for v in a.values(attr) {
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
    names: Names,
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
        let mut s = Snapshot {
            names: Names::new(realm),
            unique_attrs: unique_attrs.iter().map(|u| u.to_string()).collect(),
            ..Snapshot::default()
        };
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
            s.names.insert_account(a, unique_attrs);
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
        let key = normalize_dn(dn);
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

    /// Adds the names and DNs held by other objects in the uniqueness base (any object class:
    /// users elsewhere, groups, computers, contacts).
    pub fn add_taken(&mut self, objects: &[Account]) {
        let unique: Vec<&str> = self.unique_attrs.iter().map(String::as_str).collect();
        for a in objects {
            self.names.insert_account(a, &unique);
            self.dns.insert(normalize_dn(&a.dn));
        }
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
        self.by_anchor.keys().map(String::as_str)
    }
}
