//! Connection settings for the directory.

use std::path::PathBuf;
use std::time::Duration;

use super::error::DirectoryError;

/// The bind password: the host-wide secret type, which never prints.
pub use crate::secret::Secret as SecretString;

/// How to reach and authenticate to the directory.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `ldaps://host[:636]` (TLS from the start) or `ldap://host[:389]` (plain, or StartTLS when
    /// `starttls` is set).
    pub url: String,
    /// DN (or `user@domain` UPN) of the service account.
    pub bind_dn: String,
    pub bind_password: SecretString,
    /// PEM file with the CA certificate(s) that signed the server's certificate. When set, only
    /// these CAs are trusted; when `None`, the system's trust store is used.
    pub ca_file: Option<PathBuf>,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    pub starttls: bool,
    /// Limit for connecting and for each operation (each page of a search).
    pub timeout: Duration,
    /// Entries per page of a paged search (AD's MaxPageSize is 1000 by default).
    pub page_size: i32,
}

/// How the connection is protected, as decided by the URL scheme and `starttls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `ldap://` without StartTLS: nothing is encrypted.
    Plain,
    /// `ldap://` upgraded with StartTLS.
    StartTls,
    /// `ldaps://`.
    Ldaps,
}

impl Transport {
    pub fn is_tls(self) -> bool {
        self != Transport::Plain
    }
}

impl DirectoryConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_PAGE_SIZE: i32 = 500;

    /// Settings with no custom CA, no StartTLS, a 30 s timeout and pages of 500 entries.
    pub fn new(
        url: impl Into<String>,
        bind_dn: impl Into<String>,
        bind_password: impl Into<SecretString>,
    ) -> Self {
        Self {
            url: url.into(),
            bind_dn: bind_dn.into(),
            bind_password: bind_password.into(),
            ca_file: None,
            starttls: false,
            timeout: Self::DEFAULT_TIMEOUT,
            page_size: Self::DEFAULT_PAGE_SIZE,
        }
    }

    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(ca_file.into());
        self
    }

    pub fn with_starttls(mut self, starttls: bool) -> Self {
        self.starttls = starttls;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_page_size(mut self, page_size: i32) -> Self {
        self.page_size = page_size;
        self
    }

    /// Checks the settings and says how the connection will be protected.
    pub fn transport(&self) -> Result<Transport, DirectoryError> {
        let invalid = |reason: String| DirectoryError::Config { reason };
        let scheme = self
            .url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .ok_or_else(|| {
                invalid(format!(
                    "the directory URL `{}` has no scheme; use ldaps://host or ldap://host",
                    self.url
                ))
            })?;
        let transport = match (scheme.as_str(), self.starttls) {
            ("ldaps", false) => Transport::Ldaps,
            ("ldaps", true) => {
                return Err(invalid(format!(
                    "StartTLS is for ldap:// URLs, but `{}` is already ldaps://; turn StartTLS off",
                    self.url
                )));
            }
            ("ldap", true) => Transport::StartTls,
            ("ldap", false) => Transport::Plain,
            _ => {
                return Err(invalid(format!(
                    "the directory URL `{}` must start with ldaps:// or ldap://",
                    self.url
                )));
            }
        };
        // ldap3 hands "[::1]" to rustls as the name to verify, which rustls rejects.
        let host_is_ipv6_literal = self
            .url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.starts_with('['));
        if transport.is_tls() && host_is_ipv6_literal {
            return Err(invalid(format!(
                "`{}` names an IPv6 address; TLS certificate checks need a host name or an IPv4 address (use a DNS name listed in the server's certificate)",
                self.url
            )));
        }
        if self.bind_dn.trim().is_empty() {
            return Err(invalid("the bind DN is empty".to_owned()));
        }
        // An empty password turns a simple bind into an anonymous one that "succeeds".
        if self.bind_password.is_empty() {
            return Err(invalid(format!(
                "the bind password for {} is empty",
                self.bind_dn
            )));
        }
        if self.page_size < 1 {
            return Err(invalid(format!(
                "the page size must be at least 1 (got {})",
                self.page_size
            )));
        }
        if self.timeout.is_zero() {
            return Err(invalid("the timeout must be longer than zero".to_owned()));
        }
        Ok(transport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> DirectoryConfig {
        DirectoryConfig::new(url, "CN=svc,DC=x", "pw-Secret1")
    }

    #[test]
    fn debug_hides_the_password() {
        let text = format!("{:?}", cfg("ldaps://dc"));
        assert!(!text.contains("pw-Secret1"), "{text}");
        assert!(text.contains("***"));
    }

    #[test]
    fn transport_follows_scheme_and_starttls() {
        assert_eq!(cfg("ldaps://dc").transport().ok(), Some(Transport::Ldaps));
        assert_eq!(cfg("LDAP://dc").transport().ok(), Some(Transport::Plain));
        assert_eq!(
            cfg("ldap://dc:389").with_starttls(true).transport().ok(),
            Some(Transport::StartTls)
        );
        assert!(cfg("ldaps://dc").with_starttls(true).transport().is_err());
        assert!(cfg("http://dc").transport().is_err());
        assert!(cfg("dc.example.test").transport().is_err());
        assert!(cfg("ldaps://dc").with_page_size(0).transport().is_err());
        assert!(cfg("ldaps://[::1]:636").transport().is_err());
        assert_eq!(cfg("ldap://[::1]").transport().ok(), Some(Transport::Plain));
        assert!(
            DirectoryConfig::new("ldaps://dc", "CN=svc", "")
                .transport()
                .is_err()
        );
    }
}
