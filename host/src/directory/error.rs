//! Directory errors: each names the entry (and where known the attribute) and says what an admin
//! can do about it. No variant ever carries a password.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ldap3::{LdapError, LdapResult};

/// The operation that failed, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Connect,
    Bind,
    Search,
    Read,
    Add,
    Modify,
    Rename,
    Delete,
    SetPassword,
    Enable,
    Disable,
    AddMember,
    RemoveMember,
    EnsureOu,
    Unbind,
}

impl Operation {
    /// The operation as the LDAP protocol names it, for metrics labels.
    pub fn metric_label(self) -> &'static str {
        match self {
            Operation::Connect | Operation::Bind => "bind",
            Operation::Search => "search",
            Operation::Read => "read",
            Operation::Add | Operation::EnsureOu => "add",
            Operation::Modify
            | Operation::SetPassword
            | Operation::Enable
            | Operation::Disable
            | Operation::AddMember
            | Operation::RemoveMember => "modify",
            Operation::Rename => "rename",
            Operation::Delete => "delete",
            Operation::Unbind => "unbind",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Connect => "connect to",
            Operation::Bind => "bind as",
            Operation::Search => "search",
            Operation::Read => "read",
            Operation::Add => "add",
            Operation::Modify => "modify",
            Operation::Rename => "rename or move",
            Operation::Delete => "delete",
            Operation::SetPassword => "set the password of",
            Operation::Enable => "enable",
            Operation::Disable => "disable",
            Operation::AddMember => "add a member to",
            Operation::RemoveMember => "remove a member from",
            Operation::EnsureOu => "create the OU",
            Operation::Unbind => "unbind from",
        })
    }
}

/// Anything that can go wrong talking to the directory.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The settings are unusable (bad URL, empty password, …).
    #[error("invalid directory settings: {reason}")]
    Config { reason: String },

    /// The CA file cannot be read or holds no usable certificate.
    #[error(
        "cannot use the CA file {}: {reason}; point ca_file at the PEM certificate of the CA that issued the directory server's certificate",
        path.display()
    )]
    CaFile { path: PathBuf, reason: String },

    /// No TCP connection (refused, unreachable, DNS).
    #[error(
        "cannot connect to the directory at {url}: {reason}; check that the server is running and that the URL's host and port are right"
    )]
    Connect { url: String, reason: String },

    /// The TLS handshake failed. `ca_check_failed` is true when the server's certificate was
    /// rejected (unknown issuer, wrong name, expired, …).
    #[error("{}", tls_message(url, ca_file.as_ref(), *ca_check_failed, reason))]
    Tls {
        url: String,
        ca_file: Option<PathBuf>,
        ca_check_failed: bool,
        reason: String,
    },

    /// The server did not answer in time.
    #[error(
        "could not {operation} {dn} at {url}: no answer within {after:?}; the directory is overloaded or unreachable"
    )]
    Timeout {
        url: String,
        operation: Operation,
        dn: String,
        after: Duration,
    },

    /// The connection broke or the client library failed mid-operation.
    #[error("could not {operation} {dn} at {url}: {reason}")]
    Connection {
        url: String,
        operation: Operation,
        dn: String,
        reason: String,
    },

    /// rc 49: wrong bind DN or password, or the account is disabled, locked or expired.
    #[error("{}", invalid_credentials_message(url, bind_dn, diagnostic))]
    InvalidCredentials {
        url: String,
        bind_dn: String,
        diagnostic: String,
    },

    /// A password was about to be sent over an unencrypted connection; nothing was sent.
    #[error(
        "refused to send {attribute} for {dn} to {url}: the connection is not encrypted; use an ldaps:// URL or turn on StartTLS"
    )]
    InsecureConnection {
        url: String,
        dn: String,
        attribute: String,
    },

    /// rc 68 (or 20 on a value): the entry, or a value that must be unique, already exists.
    #[error("{}", already_exists_message(*operation, dn, attribute.as_deref(), diagnostic))]
    AlreadyExists {
        operation: Operation,
        dn: String,
        attribute: Option<String>,
        diagnostic: String,
    },

    /// rc 19 on `unicodePwd` (AD's `0000052D`): the password does not meet the domain policy.
    #[error(
        "the directory rejected the new password for {dn}: it does not meet the domain password policy (length, complexity or history){}",
        detail(diagnostic)
    )]
    PasswordPolicy { dn: String, diagnostic: String },

    /// rc 19: a constraint other than the password policy (unique `userPrincipalName`, a
    /// `manager` DN that does not exist, a value too long, …).
    #[error(
        "could not {operation} {dn}: the directory reports a constraint violation{}{}; fix the value and retry",
        on_attribute(attribute.as_deref()),
        detail(diagnostic)
    )]
    ConstraintViolation {
        operation: Operation,
        dn: String,
        attribute: Option<String>,
        diagnostic: String,
    },

    /// rc 32: the entry, its parent, or a DN named in a value does not exist.
    #[error(
        "could not {operation} {dn}: no such entry (it, its parent or a DN named in a value does not exist){}",
        detail(diagnostic)
    )]
    NoSuchObject {
        operation: Operation,
        dn: String,
        diagnostic: String,
    },

    /// rc 50: the bind account lacks the right.
    #[error(
        "could not {operation} {dn}: the bind account lacks the access rights{}{}; delegate the right to it in the directory",
        on_attribute(attribute.as_deref()),
        detail(diagnostic)
    )]
    InsufficientRights {
        operation: Operation,
        dn: String,
        attribute: Option<String>,
        diagnostic: String,
    },

    /// rc 53: the server refuses (password over plain LDAP, a value it will not accept, …).
    #[error(
        "could not {operation} {dn}: the directory is unwilling to perform it{}{}",
        on_attribute(attribute.as_deref()),
        detail(diagnostic)
    )]
    UnwillingToPerform {
        operation: Operation,
        dn: String,
        attribute: Option<String>,
        diagnostic: String,
    },

    /// rc 66: the entry still has children.
    #[error(
        "could not {operation} {dn}: it still contains entries; move or delete them first{}",
        detail(diagnostic)
    )]
    NotAllowedOnNonLeaf {
        operation: Operation,
        dn: String,
        diagnostic: String,
    },

    /// Any other LDAP result code.
    #[error(
        "could not {operation} {dn}{}: LDAP result {rc} ({}){}",
        on_attribute(attribute.as_deref()),
        rc_name(*rc),
        detail(diagnostic)
    )]
    Ldap {
        operation: Operation,
        dn: String,
        attribute: Option<String>,
        rc: u32,
        diagnostic: String,
    },

    /// The search filter does not parse.
    #[error(
        "the search filter `{filter}` under {base} is not valid LDAP filter syntax; build filters with escape_filter_value"
    )]
    InvalidFilter { base: String, filter: String },

    /// An attribute read from the directory has a value this code cannot use.
    #[error("{dn} has an unusable {attribute} value `{value}`: {reason}")]
    InvalidValue {
        dn: String,
        attribute: String,
        value: String,
        reason: String,
    },
}

impl DirectoryError {
    /// The LDAP result code behind this error, when the server sent one.
    pub fn rc(&self) -> Option<u32> {
        match self {
            DirectoryError::InvalidCredentials { .. } => Some(49),
            DirectoryError::AlreadyExists { .. } => Some(68),
            DirectoryError::PasswordPolicy { .. } | DirectoryError::ConstraintViolation { .. } => {
                Some(19)
            }
            DirectoryError::NoSuchObject { .. } => Some(32),
            DirectoryError::InsufficientRights { .. } => Some(50),
            DirectoryError::UnwillingToPerform { .. } => Some(53),
            DirectoryError::NotAllowedOnNonLeaf { .. } => Some(66),
            DirectoryError::Ldap { rc, .. } => Some(*rc),
            _ => None,
        }
    }

    /// The connection failed (dropped, timed out, refused): worth one reconnect and retry.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            DirectoryError::Connection { .. }
                | DirectoryError::Timeout { .. }
                | DirectoryError::Connect { .. }
        )
    }

    pub fn is_no_such_object(&self) -> bool {
        matches!(self, DirectoryError::NoSuchObject { .. })
    }

    pub fn is_already_exists(&self) -> bool {
        matches!(self, DirectoryError::AlreadyExists { .. })
    }
}

/// What was being done, to turn an `ldap3` error into a [`DirectoryError`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpContext<'a> {
    pub url: &'a str,
    pub operation: Operation,
    pub dn: &'a str,
    /// Attributes the operation wrote: the one the server's diagnostic names becomes the error's
    /// attribute (a single one is used even when not named).
    pub attrs: &'a [&'a str],
    pub timeout: Duration,
}

impl<'a> OpContext<'a> {
    pub fn new(url: &'a str, operation: Operation, dn: &'a str, timeout: Duration) -> Self {
        Self {
            url,
            operation,
            dn,
            attrs: &[],
            timeout,
        }
    }

    pub fn with_attrs(mut self, attrs: &'a [&'a str]) -> Self {
        self.attrs = attrs;
        self
    }

    /// Maps an `ldap3` error (transport, timeout or LDAP result).
    pub fn error(&self, err: LdapError) -> DirectoryError {
        match err {
            LdapError::LdapResult { result } => self.result_error(&result),
            LdapError::Timeout { .. } => DirectoryError::Timeout {
                url: self.url.to_owned(),
                operation: self.operation,
                dn: self.dn.to_owned(),
                after: self.timeout,
            },
            LdapError::FilterParsing => DirectoryError::InvalidFilter {
                base: self.dn.to_owned(),
                filter: String::new(),
            },
            LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => DirectoryError::Config {
                reason: format!("the directory URL `{}` is not a valid LDAP URL", self.url),
            },
            LdapError::DNSName { .. } => DirectoryError::Config {
                reason: format!(
                    "the host in `{}` cannot be checked against a TLS certificate; use a DNS name or IPv4 address listed in the server's certificate",
                    self.url
                ),
            },
            other => DirectoryError::Connection {
                url: self.url.to_owned(),
                operation: self.operation,
                dn: self.dn.to_owned(),
                reason: other.to_string(),
            },
        }
    }

    /// Maps a non-success LDAP result.
    pub fn result_error(&self, res: &LdapResult) -> DirectoryError {
        let operation = self.operation;
        let dn = self.dn.to_owned();
        let diagnostic = res.text.trim().to_owned();
        let attribute = self.attribute_in(&diagnostic);
        match res.rc {
            49 => DirectoryError::InvalidCredentials {
                url: self.url.to_owned(),
                bind_dn: dn,
                diagnostic,
            },
            68 | 20 => DirectoryError::AlreadyExists {
                operation,
                dn,
                // On an add, rc 68 without a named attribute means the DN itself is taken.
                attribute: self.attribute_named_in(&diagnostic).or(if res.rc == 20 {
                    attribute
                } else {
                    None
                }),
                diagnostic,
            },
            19 if is_password_attr(attribute.as_deref()) || diagnostic.contains("0000052D") => {
                DirectoryError::PasswordPolicy { dn, diagnostic }
            }
            19 => DirectoryError::ConstraintViolation {
                operation,
                dn,
                attribute,
                diagnostic,
            },
            32 => DirectoryError::NoSuchObject {
                operation,
                dn,
                diagnostic,
            },
            50 => DirectoryError::InsufficientRights {
                operation,
                dn,
                attribute,
                diagnostic,
            },
            53 => DirectoryError::UnwillingToPerform {
                operation,
                dn,
                attribute,
                diagnostic,
            },
            66 => DirectoryError::NotAllowedOnNonLeaf {
                operation,
                dn,
                diagnostic,
            },
            rc => DirectoryError::Ldap {
                operation,
                dn,
                attribute,
                rc,
                diagnostic,
            },
        }
    }

    /// The written attribute named in the diagnostic, else the only written attribute.
    fn attribute_in(&self, diagnostic: &str) -> Option<String> {
        self.attribute_named_in(diagnostic)
            .or_else(|| match self.attrs {
                [only] => Some((*only).to_owned()),
                _ => None,
            })
    }

    /// The written attribute the diagnostic names as a whole word (the entry's own DN, which
    /// servers often quote, is left out of the search).
    fn attribute_named_in(&self, diagnostic: &str) -> Option<String> {
        let text = if self.dn.is_empty() {
            diagnostic.to_ascii_lowercase()
        } else {
            diagnostic.replace(self.dn, " ").to_ascii_lowercase()
        };
        self.attrs
            .iter()
            .filter(|a| !a.eq_ignore_ascii_case("objectClass") || self.attrs.len() == 1)
            .find(|a| mentions_word(&text, &a.to_ascii_lowercase()))
            .map(|a| (*a).to_owned())
    }
}

/// True when `word` occurs in `text` not as part of a longer name.
fn mentions_word(text: &str, word: &str) -> bool {
    !word.is_empty()
        && text.match_indices(word).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + word.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
}

fn is_password_attr(attr: Option<&str>) -> bool {
    attr.is_some_and(|a| {
        a.eq_ignore_ascii_case("unicodePwd") || a.eq_ignore_ascii_case("userPassword")
    })
}

fn detail(diagnostic: &str) -> String {
    if diagnostic.is_empty() {
        String::new()
    } else {
        format!(" (server said: {diagnostic})")
    }
}

fn on_attribute(attribute: Option<&str>) -> String {
    attribute
        .map(|a| format!(" on attribute {a}"))
        .unwrap_or_default()
}

fn already_exists_message(
    operation: Operation,
    dn: &str,
    attribute: Option<&str>,
    diagnostic: &str,
) -> String {
    match attribute {
        Some(attr) => format!(
            "could not {operation} {dn}: another entry already has this {attr} value, which must be unique{}; choose another value or fix the other entry",
            detail(diagnostic)
        ),
        None => format!(
            "could not {operation} {dn}: it already exists (or already has this value){}",
            detail(diagnostic)
        ),
    }
}

fn tls_message(
    url: &str,
    ca_file: Option<&PathBuf>,
    ca_check_failed: bool,
    reason: &str,
) -> String {
    let trust = match ca_file {
        Some(path) => format!("the CA file {}", path.display()),
        None => "the system trust store".to_owned(),
    };
    if ca_check_failed {
        format!(
            "TLS to {url} failed: the server's certificate did not pass the CA check against {trust} ({reason}); set ca_file to the CA that issued the directory's certificate and make sure the URL's host is in that certificate"
        )
    } else {
        format!("TLS handshake with {url} failed: {reason}")
    }
}

fn invalid_credentials_message(url: &str, bind_dn: &str, diagnostic: &str) -> String {
    // AD puts the reason in the diagnostic as "data <hex>".
    let hint = match ad_bind_subcode(diagnostic).as_deref() {
        Some("52e") => "the password is wrong",
        Some("525") => "the account does not exist",
        Some("530") | Some("531") => "the account may not log on now or from here",
        Some("532") => "the password has expired",
        Some("533") => "the account is disabled",
        Some("701") => "the account has expired",
        Some("773") => "the password must be changed first",
        Some("775") => "the account is locked out",
        _ => "check the bind DN and the password, and that the account is enabled",
    };
    format!(
        "the directory at {url} rejected the bind as {bind_dn}: invalid credentials; {hint}{}",
        detail(diagnostic)
    )
}

fn ad_bind_subcode(diagnostic: &str) -> Option<String> {
    let lower = diagnostic.to_ascii_lowercase();
    let start = lower.find("data ")? + 5;
    let code: String = lower[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    (!code.is_empty()).then_some(code)
}

fn rc_name(rc: u32) -> &'static str {
    match rc {
        1 => "operations error",
        2 => "protocol error",
        3 => "time limit exceeded",
        4 => "size limit exceeded",
        7 => "authentication method not supported",
        8 => "stronger authentication required",
        10 => "referral",
        11 => "administrative limit exceeded",
        12 => "unavailable critical extension",
        13 => "confidentiality required",
        16 => "no such attribute",
        17 => "undefined attribute type",
        18 => "inappropriate matching",
        21 => "invalid attribute syntax",
        34 => "invalid DN syntax",
        48 => "inappropriate authentication",
        51 => "busy",
        52 => "unavailable",
        54 => "loop detected",
        64 => "naming violation",
        65 => "object class violation",
        67 => "not allowed on RDN",
        69 => "object class modifications prohibited",
        71 => "affects multiple DSAs",
        80 => "other",
        _ => "unknown result code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rc: u32, text: &str) -> LdapResult {
        LdapResult {
            rc,
            matched: String::new(),
            text: text.to_owned(),
            refs: vec![],
            ctrls: vec![],
        }
    }

    fn ctx<'a>(op: Operation, attrs: &'a [&'a str]) -> OpContext<'a> {
        OpContext::new("ldaps://dc", op, "CN=Ann,OU=P,DC=x", Duration::from_secs(5))
            .with_attrs(attrs)
    }

    #[test]
    fn duplicate_account_name_names_the_attribute() {
        let attrs = ["objectClass", "sAMAccountName", "userPrincipalName"];
        let err = ctx(Operation::Add, &attrs).result_error(&result(
            68,
            "00002071: samldb: samAccountName 'ann1' already in use!",
        ));
        let text = err.to_string();
        assert!(
            matches!(&err, DirectoryError::AlreadyExists { attribute: Some(a), .. } if a == "sAMAccountName"),
            "{err:?}"
        );
        assert!(
            text.contains("CN=Ann,OU=P,DC=x") && text.contains("sAMAccountName"),
            "{text}"
        );
    }

    #[test]
    fn attribute_names_match_whole_words_outside_the_dn() {
        let attrs = ["objectClass", "name", "mail", "sAMAccountName"];
        let c = OpContext::new(
            "ldaps://dc",
            Operation::Add,
            "CN=Mail Room,DC=x",
            Duration::ZERO,
        )
        .with_attrs(&attrs);
        let err = c.result_error(&result(68, "samAccountName 'mr' already in use!"));
        assert!(
            matches!(&err, DirectoryError::AlreadyExists { attribute: Some(a), .. } if a == "sAMAccountName"),
            "{err:?}"
        );
        let err = c.result_error(&result(68, "Entry CN=Mail Room,DC=x already exists"));
        assert!(
            matches!(
                err,
                DirectoryError::AlreadyExists {
                    attribute: None,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn existing_dn_has_no_attribute() {
        let attrs = ["objectClass", "sAMAccountName"];
        let err = ctx(Operation::Add, &attrs)
            .result_error(&result(68, "Entry CN=Ann,OU=P,DC=x already exists"));
        assert!(matches!(
            err,
            DirectoryError::AlreadyExists {
                attribute: None,
                ..
            }
        ));
    }

    #[test]
    fn password_policy_is_recognised() {
        let err = ctx(Operation::SetPassword, &["unicodePwd"]).result_error(&result(
            19,
            "0000052D: Constraint violation - check_password_restrictions: the password is too short.",
        ));
        assert!(
            matches!(err, DirectoryError::PasswordPolicy { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("password policy"));
        assert_eq!(err.rc(), Some(19));
    }

    #[test]
    fn bind_failure_explains_ad_subcode() {
        let err = ctx(Operation::Bind, &[]).result_error(&result(
            49,
            "80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 533, v3839",
        ));
        let text = err.to_string();
        assert!(
            text.contains("CN=Ann,OU=P,DC=x") && text.contains("disabled"),
            "{text}"
        );
    }

    #[test]
    fn other_codes_are_named() {
        let err = ctx(Operation::Modify, &["title"]).result_error(&result(21, "bad"));
        let text = err.to_string();
        assert!(
            text.contains("21 (invalid attribute syntax)") && text.contains("title"),
            "{text}"
        );
    }
}
