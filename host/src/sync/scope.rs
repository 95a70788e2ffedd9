//! Where hrsync may write: inside `[directory] managed_ous`, never to a protected account.
//!
//! The plan refuses to touch an account outside the scope (the person is quarantined with the
//! reason), and `apply` checks every operation's DN again before it is sent, so no path — sync,
//! approve or an orchestration template — writes outside what hrsync manages.

use crate::directory::escape::parse_dn;

/// A DN as its RDNs, each `attr=value` lower-cased (values unescaped), outermost last.
fn rdns(dn: &str) -> Option<Vec<(String, String)>> {
    parse_dn(dn).map(|r| {
        r.into_iter()
            .map(|x| (x.attr.to_ascii_lowercase(), x.value.to_lowercase()))
            .collect()
    })
}

/// The managed OUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteScope {
    /// As configured, for messages.
    ous: Vec<String>,
    /// Parsed, for comparisons (a DN that does not parse is never in scope).
    keys: Vec<Vec<(String, String)>>,
}

impl WriteScope {
    /// The scope of these OUs (DNs).
    pub fn new(ous: &[String]) -> WriteScope {
        WriteScope {
            ous: ous.to_vec(),
            keys: ous.iter().filter_map(|o| rdns(o)).collect(),
        }
    }

    /// Whether `dn` is one of the managed OUs or lies under one.
    pub fn contains(&self, dn: &str) -> bool {
        self.depth_under(dn).is_some()
    }

    /// How many RDNs `dn` has below the managed OU that holds it.
    fn depth_under(&self, dn: &str) -> Option<usize> {
        let key = rdns(dn)?;
        self.keys
            .iter()
            .filter(|ou| key.len() >= ou.len() && key[key.len() - ou.len()..] == ou[..])
            .map(|ou| key.len() - ou.len())
            .next()
    }

    /// Whether `dn` lies strictly under a managed OU (an account's DN, not an OU itself).
    pub fn holds_entry(&self, dn: &str) -> bool {
        self.depth_under(dn).is_some_and(|d| d > 0)
    }

    /// The managed OUs, for messages.
    pub fn describe(&self) -> String {
        if self.ous.is_empty() {
            "(none)".to_string()
        } else {
            self.ous.join("; ")
        }
    }

    /// Why `dn` may not be written, or `None` when it may.
    pub fn refuse(&self, dn: &str) -> Option<String> {
        (!self.holds_entry(dn)).then(|| {
            format!(
                "{dn} is outside the managed OUs ({}): hrsync does not write there; move the account into a managed OU or add its OU to directory.managed_ous",
                self.describe()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::WriteScope;

    #[test]
    fn entries_under_a_managed_ou_are_in_scope_and_look_alikes_are_not() {
        let s = WriteScope::new(&["OU=Staff,DC=corp,DC=example".to_string()]);
        assert!(s.holds_entry("CN=Ada,OU=Eng,OU=Staff,DC=corp,DC=example"));
        assert!(s.holds_entry("cn=Ada,ou=staff,dc=CORP,dc=example"));
        assert!(!s.holds_entry("OU=Staff,DC=corp,DC=example"));
        assert!(s.contains("OU=Staff,DC=corp,DC=example"));
        assert!(!s.holds_entry("CN=Ada,OU=OldStaff,DC=corp,DC=example"));
        assert!(!s.holds_entry("CN=Staff\\,x,DC=corp,DC=example"));
        // An escaped comma in a value is not an RDN boundary.
        assert!(!s.holds_entry("CN=x\\,OU=Staff,DC=corp,DC=example"));
        assert!(!s.holds_entry("CN=Administrator,CN=Users,DC=corp,DC=example"));
        let why = s
            .refuse("CN=Bob,OU=Legacy,DC=corp,DC=example")
            .unwrap_or_default();
        assert!(why.contains("outside the managed OUs"), "{why}");
    }
}
