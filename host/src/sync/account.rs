//! One user account as the plan sees it, packed: a run holds every account of the directory at
//! once (a hundred thousand in a large company), so an account is three allocations (its DN,
//! its text, its offsets) instead of a map with a string per attribute name and per value.

use std::collections::HashSet;

use crate::directory::{DirEntry, escape, uac};

/// One user account: its DN, its `objectGUID`, and its attributes by case-insensitive name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub dn: String,
    /// The `objectGUID`'s bytes, when it was read.
    guid: Option<[u8; 16]>,
    /// Each attribute's lower-cased name followed by its values, attributes in name order.
    text: Box<str>,
    /// Per attribute: where its name ends in `text`, and where its values end in `ends`.
    attrs: Box<[(u32, u32)]>,
    /// Per value: where it ends in `text` (it starts where the name or value before it ends).
    ends: Box<[u32]>,
}

/// The values of one attribute of an [`Account`], in the order the directory gave them.
#[derive(Debug, Clone)]
pub struct Values<'a> {
    text: &'a str,
    start: usize,
    ends: std::slice::Iter<'a, u32>,
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let end = *self.ends.next()? as usize;
        let value = self.text.get(self.start..end)?;
        self.start = end;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ends.size_hint()
    }
}

impl ExactSizeIterator for Values<'_> {}

impl Values<'_> {
    /// The values, owned.
    pub fn to_vec(&self) -> Vec<String> {
        self.clone().map(str::to_string).collect()
    }
}

impl Account {
    /// An account from its DN, attributes (names in any case; the values of names that differ
    /// only in case are merged) and `objectGUID` (16 bytes).
    pub fn new<K, V>(
        dn: String,
        attributes: impl IntoIterator<Item = (K, V)>,
        guid: Option<[u8; 16]>,
    ) -> Account
    where
        K: AsRef<str>,
        V: IntoIterator,
        V::Item: AsRef<str>,
    {
        let mut merged: std::collections::BTreeMap<String, Vec<V::Item>> = Default::default();
        for (name, values) in attributes {
            merged
                .entry(name.as_ref().to_ascii_lowercase())
                .or_default()
                .extend(values);
        }
        let size: usize = merged
            .iter()
            .map(|(k, vs)| k.len() + vs.iter().map(|v| v.as_ref().len()).sum::<usize>())
            .sum();
        let mut text = String::with_capacity(size);
        let mut attrs = Vec::with_capacity(merged.len());
        let mut ends = Vec::new();
        for (name, values) in &merged {
            if values.is_empty() {
                continue;
            }
            text.push_str(name);
            let name_end = offset(text.len());
            for v in values {
                text.push_str(v.as_ref());
                ends.push(offset(text.len()));
            }
            attrs.push((name_end, offset(ends.len())));
        }
        Account {
            dn,
            guid,
            text: text.into_boxed_str(),
            attrs: attrs.into_boxed_slice(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// From a directory entry (its text attributes; `objectGUID` from the binary ones).
    pub fn from_entry(e: &DirEntry) -> Self {
        Account::new(
            e.dn.clone(),
            e.attrs
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("objectGUID")),
            e.first_bytes("objectGUID").and_then(|b| b.try_into().ok()),
        )
    }

    /// The `objectGUID` in AD's string form (as `<GUID=…>` DNs take it), when it was read.
    pub fn guid(&self) -> Option<String> {
        self.guid.as_ref().and_then(|b| guid_string(b))
    }

    /// The account's attributes as the mapping sees an existing entry (`on-create` rules keep
    /// its values).
    pub fn to_existing(&self) -> crate::mapping::ExistingEntry {
        crate::mapping::ExistingEntry::new(self.attributes().map(|(k, v)| (k, v.to_vec())))
    }

    /// Every attribute: its lower-cased name and its values.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, Values<'_>)> {
        (0..self.attrs.len()).filter_map(|i| self.attribute(i))
    }

    /// Attribute `i`: its name and values.
    fn attribute(&self, i: usize) -> Option<(&str, Values<'_>)> {
        let (name_end, values_end) = *self.attrs.get(i)?;
        let (name_start, values_start) = match i.checked_sub(1).and_then(|p| self.attrs.get(p)) {
            Some(&(_, before)) => (
                before
                    .checked_sub(1)
                    .and_then(|last| self.ends.get(last as usize))
                    .map_or(0, |e| *e as usize),
                before as usize,
            ),
            None => (0, 0),
        };
        let name = self.text.get(name_start..name_end as usize)?;
        let values = Values {
            text: &self.text,
            start: name_end as usize,
            ends: self.ends.get(values_start..values_end as usize)?.iter(),
        };
        Some((name, values))
    }

    /// All values of an attribute (any case); none when the account has no such attribute.
    pub fn values(&self, name: &str) -> Values<'_> {
        self.attributes()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .unwrap_or(Values {
                text: "",
                start: 0,
                ends: [].iter(),
            })
    }

    /// The first value of an attribute.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).next()
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
            || self.values("memberOf").any(is_privileged_group)
    }

    /// Groups the account is in (from `memberOf`), lower-cased.
    pub fn groups(&self) -> HashSet<String> {
        self.values("memberOf").map(escape::normalize_dn).collect()
    }
}

/// An offset into an account's text or values. An LDAP entry is far below 4 GiB (ldap3 refuses
/// larger messages), so it always fits.
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn values(a: &Account, name: &str) -> Vec<String> {
        a.values(name).map(str::to_string).collect()
    }

    #[test]
    fn values_come_back_by_any_case_of_their_name_in_the_order_given() {
        let a = Account::new(
            "CN=a,DC=x".into(),
            [
                ("sAMAccountName", vec!["ada"]),
                ("memberOf", vec!["CN=G2,DC=x", "CN=G1,DC=x", ""]),
                ("MEMBEROF", vec!["CN=G3,DC=x"]),
                ("title", vec![]),
                ("description", vec!["é ü ß"]),
            ],
            None,
        );
        assert_eq!(values(&a, "samaccountname"), ["ada"]);
        assert_eq!(a.first("SAMACCOUNTNAME"), Some("ada"));
        assert_eq!(
            values(&a, "memberOf"),
            ["CN=G2,DC=x", "CN=G1,DC=x", "", "CN=G3,DC=x"]
        );
        assert_eq!(a.values("memberof").len(), 4);
        assert_eq!(values(&a, "description"), ["é ü ß"]);
        assert!(a.values("title").next().is_none(), "no values: absent");
        assert!(a.values("mail").next().is_none());
        let names: Vec<&str> = a.attributes().map(|(n, _)| n).collect();
        assert_eq!(names, ["description", "memberof", "samaccountname"]);
    }

    #[test]
    fn a_guid_whose_bytes_are_text_is_still_the_guid() {
        // ldap3 files a binary value that happens to be UTF-8 with the text attributes.
        let mut e = DirEntry {
            dn: "CN=a,DC=x".into(),
            ..DirEntry::default()
        };
        e.attrs
            .insert("objectGUID".into(), vec!["0123456789abcdef".into()]);
        let a = Account::from_entry(&e);
        assert_eq!(
            a.guid().as_deref(),
            Some("33323130-3534-3736-3839-616263646566")
        );
        assert_eq!(
            a.attributes().count(),
            0,
            "the GUID is not a text attribute"
        );
    }

    #[test]
    fn an_account_without_attributes_has_no_values() {
        let a = Account::new("CN=a,DC=x".into(), Vec::<(&str, Vec<&str>)>::new(), None);
        assert_eq!(a.attributes().count(), 0);
        assert_eq!(a.first("cn"), None);
    }

    #[test]
    fn a_member_of_a_builtin_privileged_group_is_protected() {
        let member = |g: &str| Account::new("CN=a,DC=x".into(), [("memberOf", vec![g])], None);
        assert!(member("CN=Domain Admins,CN=Users,DC=x").is_protected());
        assert!(member("CN=Backup Operators,CN=Builtin,DC=x").is_protected());
        assert!(!member("CN=Domain Admins,OU=Lookalike,DC=x").is_protected());
        let admin = Account::new("CN=a,DC=x".into(), [("adminCount", vec!["1"])], None);
        assert!(admin.is_protected());
    }
}
