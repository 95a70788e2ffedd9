//! The authentication schemes a plugin declares (`descriptor.auth`), and the check of the
//! configured credentials against them when the connector loads.
//!
//! The admin picks a scheme and supplies only the secret; what the plugin fixes (which part of
//! Basic the secret is, the other part, where an API key goes) comes from its declaration. A
//! configuration that names a scheme the plugin does not declare, or contradicts it, is refused
//! naming both.

use std::fmt;

use super::Credentials;

/// Which part of HTTP Basic credentials the secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasicPart {
    Username,
    Password,
}

impl fmt::Display for BasicPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BasicPart::Username => "username",
            BasicPart::Password => "password",
        })
    }
}

/// Where an API key goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlacement {
    /// In a header of this name.
    Header(String),
    /// In a query parameter of this name.
    Query(String),
}

impl fmt::Display for KeyPlacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPlacement::Header(n) => write!(f, "header `{n}`"),
            KeyPlacement::Query(n) => write!(f, "query parameter `{n}`"),
        }
    }
}

/// One scheme a plugin declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    Bearer,
    OauthClientCredentials,
    OauthRefreshToken,
    Basic {
        secret_as: BasicPart,
        other: Option<String>,
    },
    ApiKey(KeyPlacement),
}

impl fmt::Display for Declared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Declared::Bearer => f.write_str("bearer"),
            Declared::OauthClientCredentials => f.write_str("client-credentials"),
            Declared::OauthRefreshToken => f.write_str("refresh-token"),
            Declared::Basic { secret_as, other } => match other {
                Some(_) => write!(f, "basic (secret as {secret_as}, the other part fixed)"),
                None => write!(f, "basic (secret as {secret_as})"),
            },
            Declared::ApiKey(p) => write!(f, "api-key ({p})"),
        }
    }
}

/// Why the configured credentials do not fit the plugin. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    /// The configuration picks a scheme the plugin does not declare.
    #[error(
        "auth kind `{configured}` is not a scheme the plugin accepts; it declares: {declared}. Pick one of those in [connectors.{connector}.auth]"
    )]
    Undeclared {
        connector: String,
        configured: String,
        declared: String,
    },
    /// The configuration contradicts the plugin's declaration of the scheme.
    #[error(
        "auth kind `{configured}` says {says}, but the plugin declares {declared}; remove that line from [connectors.{connector}.auth] or fix it"
    )]
    Contradicts {
        connector: String,
        configured: &'static str,
        says: String,
        declared: String,
    },
}

/// The configured credentials completed from the plugin's declaration, or why they do not fit.
/// Without configured authentication (`kind = "none"`, or no `auth`), nothing is checked: the HR
/// system may be reached through a proxy that authenticates, or be a test double.
pub fn resolve(
    connector: &str,
    configured: Credentials,
    declared: &[Declared],
) -> Result<Credentials, SchemeError> {
    let list = || {
        if declared.is_empty() {
            "no authentication".to_string()
        } else {
            declared
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let undeclared = |c: &Credentials| SchemeError::Undeclared {
        connector: connector.to_string(),
        configured: c.kind().to_string(),
        declared: list(),
    };
    match configured {
        Credentials::None => Ok(Credentials::None),
        c @ Credentials::ApiToken(_) if declared.contains(&Declared::Bearer) => Ok(c),
        c @ Credentials::ClientCredentials { .. }
            if declared.contains(&Declared::OauthClientCredentials) =>
        {
            Ok(c)
        }
        c @ Credentials::RefreshToken { .. } if declared.contains(&Declared::OauthRefreshToken) => {
            Ok(c)
        }
        Credentials::Basic {
            secret,
            secret_as,
            other,
        } => {
            let basics: Vec<(BasicPart, &Option<String>)> = declared
                .iter()
                .filter_map(|d| match d {
                    Declared::Basic { secret_as, other } => Some((*secret_as, other)),
                    _ => None,
                })
                .collect();
            let contradicts = |says: String| SchemeError::Contradicts {
                connector: connector.to_string(),
                configured: "basic",
                says,
                declared: list(),
            };
            let chosen = match secret_as {
                Some(part) => basics.iter().find(|(p, _)| *p == part),
                None => basics.first(),
            };
            let Some((part, fixed)) = chosen else {
                return Err(match (secret_as, basics.is_empty()) {
                    (_, true) => SchemeError::Undeclared {
                        connector: connector.to_string(),
                        configured: "basic".to_string(),
                        declared: list(),
                    },
                    (Some(p), false) => contradicts(format!("the secret is the {p}")),
                    (None, false) => contradicts("nothing".to_string()),
                });
            };
            let other = match (fixed, other) {
                (Some(_), Some(_)) => {
                    return Err(contradicts(format!(
                        "the {} (the plugin fixes it)",
                        other_part(*part)
                    )));
                }
                (Some(f), None) => Some(f.clone()),
                (None, o) => o,
            };
            Ok(Credentials::Basic {
                secret,
                secret_as: Some(*part),
                other,
            })
        }
        Credentials::ApiKey { secret, placement } => {
            let keys: Vec<&KeyPlacement> = declared
                .iter()
                .filter_map(|d| match d {
                    Declared::ApiKey(p) => Some(p),
                    _ => None,
                })
                .collect();
            let chosen = match &placement {
                Some(p) => keys.iter().find(|k| key_matches(k, p)).map(|_| p.clone()),
                None => keys.first().map(|k| (*k).clone()),
            };
            match chosen {
                Some(p) => Ok(Credentials::ApiKey {
                    secret,
                    placement: Some(p),
                }),
                None if keys.is_empty() => Err(SchemeError::Undeclared {
                    connector: connector.to_string(),
                    configured: "api-key".to_string(),
                    declared: list(),
                }),
                None => Err(SchemeError::Contradicts {
                    connector: connector.to_string(),
                    configured: "api-key",
                    says: placement
                        .map_or_else(String::new, |p| format!("the key goes in the {p}")),
                    declared: list(),
                }),
            }
        }
        c => Err(undeclared(&c)),
    }
}

/// Header names compare without case, query parameter names exactly.
fn key_matches(declared: &KeyPlacement, configured: &KeyPlacement) -> bool {
    match (declared, configured) {
        (KeyPlacement::Header(a), KeyPlacement::Header(b)) => a.eq_ignore_ascii_case(b),
        (KeyPlacement::Query(a), KeyPlacement::Query(b)) => a == b,
        _ => false,
    }
}

fn other_part(part: BasicPart) -> &'static str {
    match part {
        BasicPart::Username => "password",
        BasicPart::Password => "username",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::secret::Secret;

    fn basic(secret_as: Option<BasicPart>, other: Option<&str>) -> Credentials {
        Credentials::Basic {
            secret: Secret::new("s3cr3t-key"),
            secret_as,
            other: other.map(str::to_string),
        }
    }

    fn bamboo() -> Vec<Declared> {
        vec![Declared::Basic {
            secret_as: BasicPart::Username,
            other: Some("x".into()),
        }]
    }

    #[test]
    fn basic_takes_the_part_and_the_fixed_other_from_the_plugin() {
        let c = resolve("bamboo", basic(None, None), &bamboo()).unwrap();
        assert!(matches!(
            c,
            Credentials::Basic { secret_as: Some(BasicPart::Username), other: Some(ref o), .. } if o == "x"
        ));
    }

    #[test]
    fn a_scheme_the_plugin_does_not_declare_is_refused_naming_both() {
        let e = resolve("remote", basic(None, None), &[Declared::Bearer]).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("`basic`") && m.contains("declares: bearer"),
            "{m}"
        );
        assert!(m.contains("[connectors.remote.auth]"), "{m}");
        assert!(!m.contains("s3cr3t"), "{m}");
        let e = resolve("bamboo", Credentials::ApiToken(Secret::new("t")), &bamboo()).unwrap_err();
        assert!(e.to_string().contains("`bearer`"), "{e}");
        let e = resolve("none", Credentials::ApiToken(Secret::new("t")), &[]).unwrap_err();
        assert!(e.to_string().contains("no authentication"), "{e}");
    }

    #[test]
    fn basic_contradicting_the_plugin_is_refused() {
        let e = resolve("bamboo", basic(Some(BasicPart::Password), None), &bamboo()).unwrap_err();
        assert!(e.to_string().contains("the secret is the password"), "{e}");
        let e = resolve("bamboo", basic(None, Some("admin")), &bamboo()).unwrap_err();
        assert!(e.to_string().contains("plugin fixes it"), "{e}");
    }

    #[test]
    fn an_api_key_goes_where_the_plugin_declares() {
        let declared = [Declared::ApiKey(KeyPlacement::Header("X-Api-Key".into()))];
        let key = |p: Option<KeyPlacement>| Credentials::ApiKey {
            secret: Secret::new("k"),
            placement: p,
        };
        let c = resolve("acme", key(None), &declared).unwrap();
        assert!(matches!(
            c,
            Credentials::ApiKey { placement: Some(KeyPlacement::Header(ref h)), .. } if h == "X-Api-Key"
        ));
        assert!(
            resolve(
                "acme",
                key(Some(KeyPlacement::Header("x-api-key".into()))),
                &declared
            )
            .is_ok()
        );
        let e = resolve(
            "acme",
            key(Some(KeyPlacement::Query("api_key".into()))),
            &declared,
        )
        .unwrap_err();
        assert!(e.to_string().contains("query parameter `api_key`"), "{e}");
    }

    #[test]
    fn no_configured_auth_needs_no_declaration() {
        assert!(matches!(
            resolve("x", Credentials::None, &[Declared::Bearer]).unwrap(),
            Credentials::None
        ));
    }
}
