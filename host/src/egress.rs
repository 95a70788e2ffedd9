//! Egress capabilities: which URLs a connector may reach. Denied by default.
//!
//! Each connector lists `allowed_hosts` as `scheme://host[:port]` patterns:
//!
//! | pattern | allows |
//! | --- | --- |
//! | `https://gateway.remote.com` | that host, on the scheme's default port (443) |
//! | `https://*.remote-sandbox.com` | any subdomain (not the bare domain) on port 443 |
//! | `http://127.0.0.1:8080` | that host and port |
//! | `https://api.example.com:*` | that host on any port |
//!
//! A denied request's message names the line to add, so the admin can decide.

use std::fmt;

use url::Url;

/// A parsed `allowed_hosts` list. Empty denies everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Vec<HostPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    scheme: String,
    host: HostMatch,
    port: PortMatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Exact(String),
    /// `*.example.com`: the stored suffix is `.example.com`.
    Subdomain(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortMatch {
    Exact(u16),
    Any,
}

/// A pattern that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "allowed_hosts entry `{pattern}` is not valid: {reason} (expected scheme://host[:port], e.g. \"https://gateway.remote.com\")"
)]
pub struct PatternError {
    /// The entry as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A request to a URL the connector may not reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "connector `{connector}` may not reach {origin}: it is not in allowed_hosts. To allow it, add \"{origin}\" to allowed_hosts in [connectors.{connector}]"
)]
pub struct Denied {
    /// The connector's name.
    pub connector: String,
    /// `scheme://host:port` of the refused URL.
    pub origin: String,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

impl HostPattern {
    fn parse(pattern: &str) -> Result<Self, PatternError> {
        let err = |reason: &str| PatternError {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| err("the scheme is missing"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(err("only http and https are supported"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(err(
                "give only scheme, host and port — no path, query or user",
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
                let port = if p == "*" {
                    PortMatch::Any
                } else {
                    PortMatch::Exact(p.parse().map_err(|_| err("the port is not a number"))?)
                };
                (h, port)
            }
            _ => (
                rest,
                PortMatch::Exact(default_port(&scheme).ok_or_else(|| err("no default port"))?),
            ),
        };
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(err("the host is empty"));
        }
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(err(
                    "a wildcard must be followed by a domain, as in *.example.com",
                ));
            }
            HostMatch::Subdomain(format!(".{suffix}"))
        } else if host.contains('*') {
            return Err(err("a wildcard may only stand first, as in *.example.com"));
        } else {
            HostMatch::Exact(host)
        };
        Ok(HostPattern { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host_ok = match &self.host {
            HostMatch::Exact(h) => h == host,
            HostMatch::Subdomain(suffix) => {
                host.ends_with(suffix.as_str()) && host.len() > suffix.len()
            }
        };
        let port_ok = match self.port {
            PortMatch::Exact(p) => p == port,
            PortMatch::Any => true,
        };
        self.scheme == scheme && host_ok && port_ok
    }
}

impl AllowedHosts {
    /// Parses a list of patterns; the first bad one is reported.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let patterns = patterns
            .iter()
            .map(|p| HostPattern::parse(p.as_ref().trim()))
            .collect::<Result<_, _>>()?;
        Ok(AllowedHosts { patterns })
    }

    /// Checks that `url` may be reached by `connector`.
    pub fn check(&self, connector: &str, url: &Url) -> Result<(), Denied> {
        let scheme = url.scheme().to_ascii_lowercase();
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(0);
        if self.patterns.iter().any(|p| p.allows(&scheme, &host, port)) {
            Ok(())
        } else {
            Err(Denied {
                connector: connector.to_string(),
                origin: origin(url),
            })
        }
    }
}

/// `scheme://host[:port]`, the port only when it is not the scheme's default.
pub fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pattern(s)", self.patterns.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn check(patterns: &[&str], url: &str) -> bool {
        AllowedHosts::parse(patterns)
            .unwrap()
            .check("remote", &Url::parse(url).unwrap())
            .is_ok()
    }

    #[test]
    fn deny_by_default() {
        assert!(!check(&[], "https://gateway.remote.com/v1/employments"));
    }

    #[test]
    fn exact_host_uses_the_default_port() {
        let p = ["https://gateway.remote.com"];
        assert!(check(&p, "https://gateway.remote.com/v1/x"));
        assert!(check(&p, "https://GATEWAY.remote.com:443/"));
        assert!(!check(&p, "https://gateway.remote.com:8443/"));
        assert!(!check(&p, "http://gateway.remote.com/"));
        assert!(!check(&p, "https://gateway.remote.com.evil.example/"));
        assert!(!check(
            &p,
            "https://evil.example/?https://gateway.remote.com"
        ));
    }

    #[test]
    fn wildcards_and_ports() {
        let p = ["https://*.remote-sandbox.com", "http://127.0.0.1:*"];
        assert!(check(&p, "https://gateway.remote-sandbox.com/"));
        assert!(check(&p, "https://a.b.remote-sandbox.com/"));
        assert!(!check(&p, "https://remote-sandbox.com/"));
        assert!(!check(&p, "https://evilremote-sandbox.com/"));
        assert!(check(&p, "http://127.0.0.1:51234/v1"));
        assert!(!check(&p, "http://127.0.0.2:51234/v1"));
    }

    #[test]
    fn bad_patterns_are_explained() {
        for bad in [
            "gateway.remote.com",
            "ftp://x",
            "https://x/path",
            "https://a*.b",
            "https://x:port",
        ] {
            let e = AllowedHosts::parse(&[bad]).unwrap_err();
            assert_eq!(e.pattern, bad);
            assert!(e.to_string().contains("expected scheme://host[:port]"));
        }
    }

    #[test]
    fn denial_names_the_line_to_add() {
        let allowed = AllowedHosts::parse(&["https://gateway.remote.com"]).unwrap();
        let e = allowed
            .check(
                "remote",
                &Url::parse("https://evil.example:8443/steal").unwrap(),
            )
            .unwrap_err();
        assert_eq!(e.origin, "https://evil.example:8443");
        assert!(
            e.to_string().contains(
                "add \"https://evil.example:8443\" to allowed_hosts in [connectors.remote]"
            )
        );
    }
}
