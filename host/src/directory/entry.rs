//! Entries read from the directory, and modifications to write.

use std::collections::{BTreeMap, HashSet};

use ldap3::{Mod, SearchEntry};

/// One entry as read: the DN and its attributes. Attribute names are kept as the server sent
/// them; look them up with [`DirEntry::first`] / [`DirEntry::values`], which ignore case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirEntry {
    pub dn: String,
    /// Attributes whose values are all UTF-8.
    pub attrs: BTreeMap<String, Vec<String>>,
    /// Attributes with a value that is not UTF-8 (`objectGUID`, `objectSid`, …).
    pub bin_attrs: BTreeMap<String, Vec<Vec<u8>>>,
}

impl DirEntry {
    /// The first value of a text attribute, by case-insensitive name.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }

    /// All values of a text attribute, by case-insensitive name (empty when absent).
    pub fn values(&self, name: &str) -> &[String] {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    /// The first value of a binary attribute, by case-insensitive name.
    pub fn first_bin(&self, name: &str) -> Option<&[u8]> {
        self.bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(Vec::as_slice)
    }

    /// The first value of an attribute as bytes, wherever it was put: ldap3 files a binary
    /// value whose bytes happen to be UTF-8 (one `objectGUID` in a few hundred) with the text.
    pub fn first_bytes(&self, name: &str) -> Option<&[u8]> {
        self.first_bin(name)
            .or_else(|| self.first(name).map(str::as_bytes))
    }

    /// True when the attribute is present (text or binary).
    pub fn has(&self, name: &str) -> bool {
        !self.values(name).is_empty() || self.first_bin(name).is_some()
    }
}

impl From<SearchEntry> for DirEntry {
    fn from(e: SearchEntry) -> Self {
        DirEntry {
            dn: e.dn,
            attrs: e.attrs.into_iter().collect(),
            bin_attrs: e.bin_attrs.into_iter().collect(),
        }
    }
}

/// How far a search reaches below its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// The base entry only.
    Base,
    /// The direct children of the base.
    OneLevel,
    /// The base and everything below it.
    Subtree,
}

impl From<SearchScope> for ldap3::Scope {
    fn from(s: SearchScope) -> Self {
        match s {
            SearchScope::Base => ldap3::Scope::Base,
            SearchScope::OneLevel => ldap3::Scope::OneLevel,
            SearchScope::Subtree => ldap3::Scope::Subtree,
        }
    }
}

/// One change to an attribute of an existing entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modification {
    /// Add values (the attribute is created when absent).
    Add { attr: String, values: Vec<String> },
    /// Remove these values; with no values, remove the whole attribute.
    Delete { attr: String, values: Vec<String> },
    /// Set exactly these values; with no values, remove the attribute if present.
    Replace { attr: String, values: Vec<String> },
}

impl Modification {
    pub fn add<V: Into<String>>(
        attr: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Modification::Add {
            attr: attr.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    pub fn delete<V: Into<String>>(
        attr: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Modification::Delete {
            attr: attr.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    pub fn replace<V: Into<String>>(
        attr: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Modification::Replace {
            attr: attr.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// Removes the attribute, whatever its values (a replace with no values: no error when the
    /// attribute is already absent).
    pub fn clear(attr: impl Into<String>) -> Self {
        Modification::Replace {
            attr: attr.into(),
            values: Vec::new(),
        }
    }

    pub fn attr(&self) -> &str {
        match self {
            Modification::Add { attr, .. }
            | Modification::Delete { attr, .. }
            | Modification::Replace { attr, .. } => attr,
        }
    }

    pub(crate) fn to_ldap(&self) -> Mod<Vec<u8>> {
        let set = |values: &[String]| -> HashSet<Vec<u8>> {
            values.iter().map(|v| v.as_bytes().to_vec()).collect()
        };
        match self {
            Modification::Add { attr, values } => Mod::Add(attr.as_bytes().to_vec(), set(values)),
            Modification::Delete { attr, values } => {
                Mod::Delete(attr.as_bytes().to_vec(), set(values))
            }
            Modification::Replace { attr, values } => {
                Mod::Replace(attr.as_bytes().to_vec(), set(values))
            }
        }
    }
}

/// True for attributes that carry a password and so must only travel over TLS.
pub(crate) fn is_password_attribute(name: &str) -> bool {
    name.eq_ignore_ascii_case("unicodePwd") || name.eq_ignore_ascii_case("userPassword")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        let mut e = DirEntry {
            dn: "CN=a".into(),
            ..DirEntry::default()
        };
        e.attrs.insert("sAMAccountName".into(), vec!["ann".into()]);
        e.bin_attrs.insert("objectGUID".into(), vec![vec![1, 2]]);
        assert_eq!(e.first("samaccountname"), Some("ann"));
        assert_eq!(e.first("SAMACCOUNTNAME"), Some("ann"));
        assert_eq!(e.first("mail"), None);
        assert!(e.values("mail").is_empty());
        assert_eq!(e.first_bin("objectguid"), Some(&[1u8, 2][..]));
        assert!(e.has("objectGuid") && e.has("samAccountName") && !e.has("cn"));
    }
}
