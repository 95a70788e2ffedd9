//! Escaping of untrusted values for DNs (RFC 4514) and search filters (RFC 4515), and small DN
//! helpers (build a child DN, parent of a DN, value of the first RDN, DN comparison).
//!
//! Every value that comes from HR data must go through [`escape_dn_value`] before it becomes part
//! of a DN, and through [`escape_filter_value`] before it becomes part of a filter.

/// Escapes one attribute value for use in a DN (RFC 4514 section 2.4).
///
/// `,` `+` `"` `\` `<` `>` `;` `=` are backslash-escaped everywhere, a leading space or `#` and a
/// trailing space are backslash-escaped, and NUL becomes `\00`.
pub fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for (i, c) in value.char_indices() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            ' ' if i == 0 || i + 1 == value.len() => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a value for use inside a search filter assertion (RFC 4515 section 3):
/// `*` `(` `)` `\` and NUL become `\2a` `\28` `\29` `\5c` `\00`.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// Reverses [`escape_dn_value`] and the other escaped forms servers return (`\3D`, `\,`, quoted
/// values). Returns `None` for a malformed escape or bytes that are not UTF-8.
pub fn unescape_dn_value(escaped: &str) -> Option<String> {
    let trimmed = escaped.trim_matches(' ');
    // RFC 2253 allowed a quoted value; servers rarely send it, but accept it.
    if let Some(inner) = trimmed
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        return unescape_dn_value(inner);
    }
    let bytes = escaped.trim_start_matches(' ').as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    // Length up to the last escaped byte: unescaped trailing spaces after it are not part of
    // the value, escaped ones (`\ `) are.
    let mut kept = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let next = *bytes.get(i + 1)?;
        if next.is_ascii_hexdigit() {
            let hi = hex_digit(next)?;
            let lo = hex_digit(*bytes.get(i + 2)?)?;
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(next);
            i += 2;
        }
        kept = out.len();
    }
    while out.len() > kept && out.last() == Some(&b' ') {
        out.pop();
    }
    String::from_utf8(out).ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `attr=<escaped value>`, one relative distinguished name.
pub fn rdn(attr: &str, value: &str) -> String {
    format!("{attr}={}", escape_dn_value(value))
}

/// `<attr>=<escaped value>,<parent>`: the DN of a child entry of `parent`.
pub fn child_dn(attr: &str, value: &str, parent: &str) -> String {
    if parent.is_empty() {
        rdn(attr, value)
    } else {
        format!("{},{parent}", rdn(attr, value))
    }
}

/// `CN=<escaped value>,<parent>`.
pub fn cn_dn(value: &str, parent: &str) -> String {
    child_dn("CN", value, parent)
}

/// `OU=<escaped value>,<parent>`.
pub fn ou_dn(value: &str, parent: &str) -> String {
    child_dn("OU", value, parent)
}

/// Splits a DN at its first unescaped `,`: `(first RDN, rest)`. The rest is empty for a one-RDN
/// DN; `None` for an empty DN or a dangling backslash.
pub fn split_first_rdn(dn: &str) -> Option<(&str, &str)> {
    if dn.trim().is_empty() {
        return None;
    }
    let end = find_unescaped(dn, b',')?;
    match end {
        Some(i) => Some((dn[..i].trim_start(), dn[i + 1..].trim_start())),
        None => Some((dn.trim_start(), "")),
    }
}

/// The DN of the parent entry: everything after the first RDN. `None` for a one-RDN DN.
pub fn parent_dn(dn: &str) -> Option<&str> {
    split_first_rdn(dn)
        .map(|(_, rest)| rest)
        .filter(|rest| !rest.is_empty())
}

/// The attribute name of the first RDN (`CN` for `CN=Ann,OU=x`).
pub fn rdn_attr(dn: &str) -> Option<&str> {
    let (first, _) = split_first_rdn(dn)?;
    let eq = first.find('=')?;
    Some(first[..eq].trim())
}

/// The unescaped value of the first RDN (`Ann, Jr` for `CN=Ann\, Jr,OU=x`). `None` when the DN is
/// malformed or the first RDN is multi-valued (`CN=a+UID=b`).
pub fn rdn_value(dn: &str) -> Option<String> {
    let (first, _) = split_first_rdn(dn)?;
    parse_rdn(first).map(|(_, value)| value)
}

/// One parsed RDN component: attribute name as written and the unescaped value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdn {
    pub attr: String,
    pub value: String,
}

/// Parses a DN into its RDNs, unescaping the values. `None` if malformed or if an RDN is
/// multi-valued (AD never uses those).
pub fn parse_dn(dn: &str) -> Option<Vec<Rdn>> {
    let mut out = Vec::new();
    let mut rest = dn;
    while !rest.trim().is_empty() {
        let (first, tail) = split_first_rdn(rest)?;
        let (attr, value) = parse_rdn(first)?;
        out.push(Rdn { attr, value });
        rest = tail;
    }
    if out.is_empty() { None } else { Some(out) }
}

/// DN comparison key: each RDN parsed, lower-cased and escaped the one canonical way
/// (malformed DNs: their text, lower-cased).
pub fn normalize_dn(dn: &str) -> String {
    match parse_dn(dn) {
        Some(rdns) => rdns
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r.attr.to_ascii_lowercase(),
                    escape_dn_value(&r.value.to_lowercase())
                )
            })
            .collect::<Vec<_>>()
            .join(","),
        None => dn.to_lowercase(),
    }
}

/// True when two DNs name the same entry the way AD compares them: attribute names ASCII
/// case-insensitively, values case-insensitively after unescaping (so `\3D` equals `\=`).
/// Malformed DNs compare by their text (ignoring ASCII case).
pub fn dn_eq(a: &str, b: &str) -> bool {
    match (parse_dn(a), parse_dn(b)) {
        (Some(x), Some(y)) => {
            x.len() == y.len()
                && x.iter().zip(&y).all(|(p, q)| {
                    p.attr.eq_ignore_ascii_case(&q.attr)
                        && p.value.to_lowercase() == q.value.to_lowercase()
                })
        }
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// `(attr, unescaped value)` of one single-valued RDN.
fn parse_rdn(rdn: &str) -> Option<(String, String)> {
    if find_unescaped(rdn, b'+')?.is_some() {
        return None;
    }
    let eq = rdn.find('=')?;
    let attr = rdn[..eq].trim();
    if attr.is_empty() {
        return None;
    }
    let value = unescape_dn_value(&rdn[eq + 1..])?;
    Some((attr.to_owned(), value))
}

/// Byte index of the first `target` not preceded by a backslash escape and not inside a quoted
/// value. `Some(None)` when absent, `None` on a dangling backslash.
fn find_unescaped(s: &str, target: u8) -> Option<Option<usize>> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if i + 1 >= bytes.len() {
                    return None;
                }
                i += 2;
                continue;
            }
            b'"' => quoted = !quoted,
            b if b == target && !quoted => return Some(Some(i)),
            _ => {}
        }
        i += 1;
    }
    Some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = " Ann, \"Jr\"+=<x>;#*()";

    #[test]
    fn dn_value_escapes_specials_and_edges() {
        assert_eq!(
            escape_dn_value(HOSTILE),
            "\\ Ann\\, \\\"Jr\\\"\\+\\=\\<x\\>\\;#*()"
        );
        assert_eq!(escape_dn_value("#lead"), "\\#lead");
        assert_eq!(escape_dn_value("mid#dle"), "mid#dle");
        assert_eq!(escape_dn_value("trail "), "trail\\ ");
        assert_eq!(escape_dn_value(" "), "\\ ");
        assert_eq!(escape_dn_value("a\\b"), "a\\\\b");
        assert_eq!(escape_dn_value("nul\0"), "nul\\00");
        assert_eq!(escape_dn_value("Zoë Ångström"), "Zoë Ångström");
        assert_eq!(escape_dn_value(""), "");
    }

    #[test]
    fn dn_value_round_trips() {
        for v in [
            HOSTILE, "#lead", "trail ", " ", "a\\b", "nul\0x", "Zoë", "a,b,c", "=\"\"",
        ] {
            assert_eq!(
                unescape_dn_value(&escape_dn_value(v)).as_deref(),
                Some(v),
                "{v:?}"
            );
        }
    }

    #[test]
    fn unescape_accepts_hex_forms_servers_send() {
        // What Samba returns for the hostile CN.
        let from_ad = "\\ Ann\\, \\\"Jr\\\"\\+\\3D\\<x\\>\\3B\\#*()";
        assert_eq!(unescape_dn_value(from_ad).as_deref(), Some(HOSTILE));
        assert_eq!(unescape_dn_value("Zo\\C3\\AB").as_deref(), Some("Zoë"));
        assert_eq!(
            unescape_dn_value("\"quoted, value\"").as_deref(),
            Some("quoted, value")
        );
        assert_eq!(unescape_dn_value("bad\\"), None);
        assert_eq!(unescape_dn_value("bad\\4"), None);
        assert_eq!(unescape_dn_value("\\FF"), None);
    }

    #[test]
    fn filter_value_escapes_and_defuses_injection() {
        assert_eq!(
            escape_filter_value(HOSTILE),
            " Ann, \"Jr\"+=<x>;#\\2a\\28\\29"
        );
        assert_eq!(
            escape_filter_value("*)(objectClass=*"),
            "\\2a\\29\\28objectClass=\\2a"
        );
        assert_eq!(escape_filter_value("a\\b\0"), "a\\5cb\\00");
        assert_eq!(escape_filter_value("plain"), "plain");
    }

    #[test]
    fn escaped_filter_parses_as_one_assertion() {
        let filter = format!("(cn={})", escape_filter_value("*)(objectClass=*"));
        assert!(ldap3::parse_filter(&filter).is_ok());
    }

    #[test]
    fn dn_helpers() {
        let parent = "OU=People,DC=example,DC=test";
        let dn = cn_dn(HOSTILE, parent);
        assert_eq!(parent_dn(&dn), Some(parent));
        assert_eq!(rdn_attr(&dn), Some("CN"));
        assert_eq!(rdn_value(&dn).as_deref(), Some(HOSTILE));
        assert_eq!(ou_dn("a,b", "DC=x"), "OU=a\\,b,DC=x");
        assert_eq!(rdn("CN", "x;y"), "CN=x\\;y");
        assert_eq!(child_dn("CN", "x", ""), "CN=x");
        assert_eq!(parent_dn("DC=test"), None);
        assert_eq!(parent_dn(""), None);
        assert_eq!(rdn_value("CN=a+UID=b,DC=x"), None);
        assert_eq!(rdn_value("CN=a\\+b,DC=x").as_deref(), Some("a+b"));
        assert_eq!(split_first_rdn("CN=a\\"), None);
        assert_eq!(rdn_value("CN=trail\\ ,DC=x").as_deref(), Some("trail "));
        assert_eq!(rdn_value("CN= spaced  ,DC=x").as_deref(), Some("spaced"));
        assert_eq!(rdn_value("CN=\\ lead").as_deref(), Some(" lead"));
    }

    #[test]
    fn parse_and_compare_dns() {
        let ours = cn_dn(HOSTILE, "OU=People,DC=example,DC=test");
        let from_ad =
            "CN=\\ Ann\\, \\\"Jr\\\"\\+\\3D\\<x\\>\\3B\\#*(),OU=people,dc=Example,DC=test";
        assert!(dn_eq(&ours, from_ad));
        assert!(!dn_eq(&ours, "CN=Ann,OU=People,DC=example,DC=test"));
        assert!(!dn_eq("CN=a,DC=x", "CN=a,DC=x,DC=y"));
        let parsed = parse_dn("CN=a\\,b, OU=c,DC=d");
        assert_eq!(
            parsed,
            Some(vec![
                Rdn {
                    attr: "CN".into(),
                    value: "a,b".into()
                },
                Rdn {
                    attr: "OU".into(),
                    value: "c".into()
                },
                Rdn {
                    attr: "DC".into(),
                    value: "d".into()
                },
            ])
        );
        assert_eq!(parse_dn(""), None);
        assert_eq!(parse_dn("novalue,DC=x"), None);
    }
}
